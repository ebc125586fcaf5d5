"""The UI boundary: only ``chatbot.ui`` may import Streamlit; the core runs without it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Imports every module, one after another, in a fresh interpreter, and names the first one
# after which Streamlit is loaded (any later module would be judged on its import alone).
_PROBE = """
import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
    if "streamlit" in sys.modules:
        print(name)
        break
"""


def core_modules() -> list[str]:
    modules = []
    for path in sorted((ROOT / "chatbot").rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[1] == "ui":
            continue
        modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


def test_no_core_module_imports_streamlit() -> None:
    modules = core_modules()
    assert {"chatbot.conversation", "chatbot.store.outbox", "chatbot.documents"} <= set(modules)
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, *modules],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert probe.stdout.strip() == "", f"{probe.stdout.strip()} imports Streamlit"


def test_the_ui_package_holds_the_streamlit_glue() -> None:
    glue = {path.stem for path in (ROOT / "chatbot" / "ui").glob("*.py")} - {"__init__"}
    assert glue == {
        "auth",
        "chat_view",
        "conversations_view",
        "copy_button",
        "history_tabs",
        "history_view",
        "resources",
        "session",
    }
    for name in glue:
        assert "import streamlit" in (ROOT / "chatbot" / "ui" / f"{name}.py").read_text()
