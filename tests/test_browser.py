"""End to end: Chromium drives `streamlit run app.py`, which talks to the loopback Bedrock.

The property under test is the one the product exists for: the answer appears while it is
still being generated (the original system showed nothing until the whole answer was done),
and a reload replays the stored dialog.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from loopback.bedrock import FakeBedrock, Reply

REPO_ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# Settings the app reads from the environment; the test must not inherit a developer's.
PROJECT_VARS = (
    "BEDROCK_MODEL_ID",
    "BEDROCK_REGION",
    "CHAT_HISTORY_TABLE",
    "CHAT_HISTORY_DB",
    "CHAT_WINDOW_K",
    "CHAT_HISTORY_DAYS",
    "CHAT_MAX_INPUT_CHARS",
    "ANALYSTS",
)
STARTUP_TIMEOUT_S = 60
SCREENSHOT = Path("/tmp/e2e-chat.png")

QUESTION = "서울을 여행하고 싶어. 무엇을 타고 여행하는것이 좋을까?"
TOKENS = [f"token{i:02d} " for i in range(1, 31)]  # 30 distinct words, ~3 s at 0.1 s each
FULL_ANSWER = "".join(TOKENS).strip()


@dataclass
class App:
    url: str
    bedrock: FakeBedrock


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(proc: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(
                f"streamlit exited with {proc.returncode} before it was healthy:\n"
                + log.read_text(errors="replace")
            )
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    pytest.fail(
        f"streamlit was not healthy within {STARTUP_TIMEOUT_S} s:\n"
        + log.read_text(errors="replace")
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    """The fake Bedrock in this process and `streamlit run app.py` pointed at it."""
    with FakeBedrock() as bedrock:
        env = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("AWS_") and name not in PROJECT_VARS
        }
        env.update(
            # No real AWS config, credentials or instance metadata can be reached.
            AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
            AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
            AWS_EC2_METADATA_DISABLED="true",
            CHAT_HISTORY_DB=str(tmp_path / "chat.sqlite3"),
            PYTHONUNBUFFERED="1",
        )
        env.update(bedrock.env())
        port = _free_port()
        log = tmp_path / "streamlit.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "streamlit",
                    "run",
                    "app.py",
                    "--server.headless",
                    "true",
                    "--server.port",
                    str(port),
                    "--server.address",
                    "127.0.0.1",
                    "--browser.gatherUsageStats",
                    "false",
                    # Others edit the repository while tests run: no "source changed" prompts.
                    "--server.fileWatcherType",
                    "none",
                ],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        try:
            base_url = f"http://127.0.0.1:{port}"
            _wait_healthy(proc, base_url, log)
            yield App(url=base_url, bedrock=bedrock)
        finally:
            _stop(proc)
            # Shown by pytest only when the test fails.
            print("--- streamlit output ---\n" + log.read_text(errors="replace"))


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
            yield context.new_page()
        finally:
            browser.close()


@pytest.mark.browser
def test_answer_streams_and_is_replayed_after_reload(app: App, page: Page) -> None:
    messages = page.get_by_test_id("stChatMessage")
    user_messages = messages.filter(has=page.get_by_test_id("stChatMessageAvatarUser"))
    assistant_messages = messages.filter(has=page.get_by_test_id("stChatMessageAvatarAssistant"))
    chat_input = page.get_by_test_id("stChatInputTextArea")

    # 1. Signed in through the URL; a new user has no dialogs yet.
    page.goto(f"{app.url}/?user=alice")
    expect(chat_input).to_be_visible(timeout=30_000)
    expect(page.get_by_test_id("stTextInputField")).to_have_value("alice")
    expect(messages).to_have_count(0)

    # 2. Ask; the fake model answers 30 words after 0.3 s, one every 0.1 s.
    app.bedrock.enqueue(Reply(tokens=TOKENS, ttft=0.3, token_delay=0.1))
    chat_input.fill(QUESTION)
    sent = time.monotonic()
    chat_input.press("Enter")

    # 3. The first words show up while the rest is still being generated.
    answer = assistant_messages.last
    expect(answer).to_contain_text(TOKENS[0].strip(), timeout=15_000, use_inner_text=True)
    first_seen = time.monotonic() - sent
    partial = answer.inner_text()
    shown = sum(token.strip() in partial for token in TOKENS)
    assert TOKENS[-1].strip() not in partial, (
        f"the whole answer appeared at once ({first_seen:.2f} s after sending): {partial!r}"
    )
    expect(answer).to_be_visible()

    # 4. The whole answer, under the question; then the rerun renders the stored dialog
    # (usage caption and feedback), so it is saved before the reload below.
    expect(answer).to_contain_text(FULL_ANSWER, timeout=15_000, use_inner_text=True)
    completed = time.monotonic() - sent
    expect(user_messages).to_have_count(1)
    expect(user_messages.last).to_contain_text(QUESTION)
    expect(answer.get_by_test_id("stFeedback")).to_be_visible(timeout=15_000)
    expect(messages).to_have_count(2)
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    print(
        f"first words after {first_seen:.2f} s ({shown}/{len(TOKENS)} tokens shown), "
        f"full answer after {completed:.2f} s"
    )

    assert len(app.bedrock.requests) == 1
    assert app.bedrock.last_user_text() == QUESTION

    # 5. A reload is a new Streamlit session: the stored dialog is replayed from SQLite.
    page.reload()
    expect(chat_input).to_be_visible(timeout=30_000)
    expect(user_messages).to_have_count(1, timeout=15_000)
    expect(assistant_messages).to_have_count(1)
    expect(user_messages.first).to_contain_text(QUESTION)
    expect(assistant_messages.first).to_contain_text(FULL_ANSWER, use_inner_text=True)
    assert len(app.bedrock.requests) == 1, "replaying must not call the model again"
