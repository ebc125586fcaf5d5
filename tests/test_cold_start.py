"""Cold start: the chat page's first run draws the page without what only an answer needs,
and a warm-up thread, once per process, imports that after it. Timings are in
``bench/browser.py``; these tests check the behaviour."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from chatbot.ui import resources
from loopback.bedrock import FakeBedrock, Reply
from tests.factories import eventually

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "서울에서 가볼 만한 곳은?"
# What the first run must not import: the model's library (0.5 s with LangChain's language
# models), boto3 (the store is SQLite here) and pandas (0.3 s, which st.write_stream imports
# on first use).
DEFERRED = ("boto3", "langchain_aws", "langchain_core.language_models.chat_models", "pandas")

# In a fresh interpreter (a clean sys.modules): the chat page's first run, then the warm-up it
# scheduled, then a first answer; prints which of the modules given were loaded at each step,
# and the heavy packages the answer still had to import itself.
_PROBE = """
import json, sys, threading
from streamlit.testing.v1 import AppTest
from chatbot.ui import resources

resources.WARM_UP_DELAY_S = 3600  # the probe runs the warm-up itself, after its snapshot
question, watched = sys.argv[1], sys.argv[2:]
loaded = lambda: [name for name in watched if name in sys.modules]
at = AppTest.from_file("app.py", default_timeout=60)
at.query_params["user"] = "alice"
at.run()
first_run = loaded()
[timer] = [thread for thread in threading.enumerate() if thread.name == "warm-up"]
scheduled = timer.interval == 3600 and timer.function is resources._import_for_first_answer
timer.cancel()
timer.function()
warmed = loaded()
before_answer = set(sys.modules)
at.chat_input[0].set_value(question).run()
heavy = tuple(resources.WARM_UP_MODULES) + ("langchain_core.language_models",)
answer_imported = sorted(
    name for name in set(sys.modules) - before_answer if name.startswith(heavy)
)
print(json.dumps({
    "first_run": first_run, "scheduled": scheduled, "warmed": warmed,
    "answer_imported": answer_imported, "answer": at.chat_message[-1].markdown[0].value,
    "exception": [str(e.value) for e in at.exception],
}))
"""


def test_the_first_run_defers_the_model_and_the_warm_up_leaves_the_first_answer_nothing_heavy(
    bedrock: FakeBedrock,
) -> None:
    probe = subprocess.run(
        [sys.executable, "-c", _PROBE, QUESTION, *DEFERRED],
        cwd=ROOT,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stderr
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result["exception"] == []
    assert result["first_run"] == []  # the SQLite store, as in the isolated environment
    assert result["scheduled"]
    assert result["warmed"] == list(DEFERRED)
    assert result["answer_imported"] == []
    assert result["answer"] == f"답변: {QUESTION}"


@pytest.fixture
def warm_ups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of each warm-up's thread, recorded instead of importing; no delay."""
    names: list[str] = []
    monkeypatch.setattr(resources, "WARM_UP_DELAY_S", 0)
    monkeypatch.setattr(
        resources, "_import_for_first_answer", lambda: names.append(threading.current_thread().name)
    )
    return names


def open_chat(user: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.query_params["user"] = user
    return at.run()


def join_warm_ups() -> None:
    for thread in threading.enumerate():
        if thread.name == "warm-up":
            thread.join(timeout=30)


def test_the_warm_up_runs_once_per_process_in_a_thread_of_its_own(
    bedrock: FakeBedrock, warm_ups: list[str]
) -> None:
    alice = open_chat("alice")
    alice.chat_input[0].set_value(QUESTION).run()
    open_chat("bob")
    eventually(lambda: warm_ups)
    join_warm_ups()
    assert not alice.exception
    assert warm_ups == ["warm-up"]


def test_a_failing_warm_up_is_logged_and_the_first_answer_still_comes(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(resources, "WARM_UP_DELAY_S", 0)
    monkeypatch.setattr(resources, "WARM_UP_MODULES", ("chatbot.no_such_module",))
    bedrock.enqueue(Reply(text="경복궁과 북촌이 좋습니다."))
    with caplog.at_level(logging.WARNING, logger=resources.__name__):
        at = open_chat("alice")
        eventually(lambda: "warm-up failed" in caplog.text)
        at.chat_input[0].set_value(QUESTION).run()
    assert "warm-up failed: ModuleNotFoundError" in caplog.text
    assert not at.exception
    assert at.chat_message[-1].markdown[0].value == "경복궁과 북촌이 좋습니다."
