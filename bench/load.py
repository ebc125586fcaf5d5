"""Many people chatting at once: concurrent sessions of ``streamlit run app.py`` in one Chromium.

One headless Chromium (Debian's, with the flags of ``harness/chromium.py``), ``--sessions``
browser contexts, each a local-mode user ``load-user-NN`` (``/?user=load-user-NN``) driven
concurrently with Playwright's async API. Each session sends ``--turns`` questions, one after
the other: the next is typed once the answer is complete and the stored dialog has been
redrawn (its feedback buttons show). The loopback Bedrock (``loopback/bedrock.py``) echoes
each question as "답변: <question>" after ``--ttft`` seconds, one word every
``--token-delay`` seconds; every question names its user and turn and is padded to make the
answer ``--tokens`` words long, so each answer proves which question it answered.

In the page, a ``MutationObserver`` stamps Enter and the complete answer with
``performance.now()`` (``bench/page_marks.py``'s ``PAGE_JS``). Afterwards the store is read
directly (``SqliteStore.user_dialogs`` per user over the last hour): each user must have
exactly their own turns, each ``msg == "답변: " + body``, none lost, none crossed between
users, and the outbox must be empty.

    python -m bench.load [--sessions 8] [--turns 5] [--tokens 50] [--ttft 0.3]
                         [--token-delay 0.01] [--time-limit 150]

A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import sqlite3
import statistics
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from bench.common import (
    ModelTiming,
    add_model_args,
    errors_noted,
    median_p90,
    p90,
    scratch,
    verdict,
)
from bench.page_marks import (
    ARM_JS,
    INPUT_READY_JS,
    PAGE_JS,
    RESULT_JS,
    print_offhost,
    print_warnings,
    versions_line,
    watch_offhost,
)
from chatbot.store.base import Dialog, Status
from chatbot.store.sqlite import SqliteStore
from harness.app_server import STARTUP_TIMEOUT_S, AppServer
from harness.chromium import CONTEXT_OPTIONS, launch_browser
from loopback.bedrock import FakeBedrock

ANSWER_PREFIX = "답변: "  # what FakeBedrock's default responder puts before the question
FILLER = ("서울", "주말", "여행", "코스", "한강", "공원", "시장", "추천")
TURN_TIMEOUT_S = 60
USER_ID = re.compile(r"load-user-\d+")


def user_id(n: int) -> str:
    return f"load-user-{n:02d}"


def question(user: str, turn: int, tokens: int) -> str:
    """Names the user and the turn; padded so that "답변: " + it is ``tokens`` words."""
    filler = " ".join(FILLER[i % len(FILLER)] for i in range(max(0, tokens - 4)))
    return f"{user} 질문 {turn} {filler}".strip()


@dataclass
class Session:
    user: str
    context: BrowserContext | None = None
    page: Page | None = None
    ready_s: float | None = None  # seconds from the start of opening to a usable chat input
    sent: int = 0
    answered: list[float] = field(default_factory=list)  # ms, Enter -> full answer in the DOM
    redrawn: list[float] = field(default_factory=list)  # ms, Enter -> stored dialog redrawn
    on_screen_wrong: int = 0  # the redrawn answer is not the answer to this question
    by_redraw: int = 0  # the full answer first showed up with the stored dialog's redraw
    problems: list[str] = field(default_factory=list)

    @property
    def completed(self) -> int:
        return len(self.redrawn)


async def open_session(
    browser: Browser, url: str, session: Session, offhost: list[str], started: float
) -> None:
    try:
        context = await browser.new_context(**CONTEXT_OPTIONS)
        session.context = context
        await context.add_init_script(PAGE_JS)
        watch_offhost(context, offhost)
        page = await context.new_page()
        session.page = page
        await page.goto(
            f"{url}/?user={session.user}", wait_until="commit", timeout=STARTUP_TIMEOUT_S * 1000
        )
        await page.wait_for_function(INPUT_READY_JS, polling=50, timeout=STARTUP_TIMEOUT_S * 1000)
        session.ready_s = time.monotonic() - started
    except Exception as error:
        session.problems.append(f"did not open: {type(error).__name__}: {error}")


async def chat(session: Session, turns: int, tokens: int, deadline: float) -> None:
    page = session.page
    if page is None or session.ready_s is None:
        return
    chat_input = page.get_by_test_id("stChatInputTextArea")
    for turn in range(1, turns + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            session.problems.append(f"time limit: stopped before turn {turn}")
            return
        text = question(session.user, turn, tokens)
        expected = ANSWER_PREFIX + text
        timeout_ms = int(min(TURN_TIMEOUT_S, left + 10) * 1000)
        try:
            await chat_input.fill(text, timeout=timeout_ms)
            await page.evaluate(ARM_JS, [turn - 1, ANSWER_PREFIX.strip(), expected, timeout_ms])
            await chat_input.press("Enter", timeout=timeout_ms)
            session.sent += 1
            marks = await page.evaluate(RESULT_JS)
        except Exception as error:
            session.problems.append(f"turn {turn}: {type(error).__name__}: {error}")
            return
        if marks["enter"] is not None and marks["last"] is not None:
            session.answered.append(marks["last"] - marks["enter"])
        if marks["timedOut"] or marks["enter"] is None or marks["done"] is None:
            shown = "no answer" if marks["last"] is None else "answer but no redraw"
            session.problems.append(f"turn {turn}: {shown} within {timeout_ms / 1000:g} s")
            return  # the next question would land on the wrong message index
        session.redrawn.append(marks["done"] - marks["enter"])
        if marks["last"] is not None and marks["last"] >= marks["done"]:
            session.by_redraw += 1
        if (marks["text"] or "").strip() != expected:
            session.on_screen_wrong += 1
            session.problems.append(f"turn {turn}: shown {marks['text']!r}")


async def drive(
    url: str, sessions: list[Session], args: argparse.Namespace, offhost: list[str]
) -> tuple[str, float, float]:
    """Open every session, then chat in all at once; (chromium version, open s, chat s)."""
    async with async_playwright() as playwright:
        browser = await launch_browser(playwright)
        try:
            started = time.monotonic()
            await asyncio.gather(
                *(open_session(browser, url, s, offhost, started) for s in sessions)
            )
            opened = time.monotonic() - started
            deadline = started + args.time_limit
            chat_started = time.monotonic()
            await asyncio.gather(*(chat(s, args.turns, args.tokens, deadline) for s in sessions))
            chatted = time.monotonic() - chat_started
            return browser.version, opened, chatted
        finally:
            await browser.close()


@dataclass
class StoreCheck:
    dialogs: int = 0
    lost: list[str] = field(default_factory=list)
    crossed: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # duplicates, not complete, strangers
    exact_users: int = 0  # users with exactly their --turns dialogs, all correct


def check_store(db: Path, sessions: list[Session], turns: int, tokens: int) -> StoreCheck:
    store = SqliteStore(db)
    now = datetime.now(UTC)
    since = now - timedelta(hours=1)
    result = StoreCheck()
    ours = {s.user for s in sessions}
    for session in sessions:
        rows: list[Dialog] = store.user_dialogs(session.user, since)
        result.dialogs += len(rows)
        mine = {question(session.user, t, tokens): t for t in range(1, turns + 1)}
        good: dict[int, int] = {}
        for row in rows:
            named = set(USER_ID.findall(row.body))
            if row.body not in mine or named != {session.user}:
                result.crossed.append(f"{session.user} holds {row.body[:40]!r}")
                continue
            if row.msg != ANSWER_PREFIX + row.body:
                result.crossed.append(
                    f"{session.user} turn {mine[row.body]} answered {row.msg[:40]!r}"
                )
                continue
            if row.status != Status.COMPLETE:
                result.other.append(f"{session.user} turn {mine[row.body]}: {row.status}")
            good[mine[row.body]] = good.get(mine[row.body], 0) + 1
        for turn, count in sorted(good.items()):
            if count > 1:
                result.other.append(f"{session.user} turn {turn} stored {count} times")
        # Lost: a question that was sent (Enter pressed) but is not in the store, correct.
        result.lost.extend(
            f"{session.user} turn {turn}" for turn in range(1, session.sent + 1) if turn not in good
        )
        if len(rows) == turns and sorted(good) == list(range(1, turns + 1)):
            result.exact_users += 1
    everyone, _ = store.browse(since, now + timedelta(minutes=5))
    strangers = sorted({d.user_id for d in everyone} - ours)
    if strangers:
        result.other.append(f"dialogs of users no session was: {strangers}")
    return result


def _row(label: str, sent: int, done: int, values: list[float]) -> str:
    return f"{label:<16}{sent:>6}{done:>6}{median_p90(values, 9, 0)}"


@dataclass
class Run:
    """What a run gathered, printed at the end whatever went wrong."""

    sessions: list[Session]
    problems: list[str] = field(default_factory=list)
    offhost: list[str] = field(default_factory=list)  # the browser's requests off loopback
    server_log: list[str] = field(default_factory=list)  # the server's trouble lines
    chromium: str = "?"
    opened: float = float("nan")  # seconds to open every session
    chatted: float = float("nan")  # seconds of all sessions chatting
    model_calls: int = 0
    check: StoreCheck | None = None
    outbox_pending: int | None = None

    @property
    def sent(self) -> int:
        return sum(s.sent for s in self.sessions)

    @property
    def completed(self) -> int:
        return sum(s.completed for s in self.sessions)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8, help="concurrent users")
    parser.add_argument("--turns", type=int, default=5, help="questions per user")
    add_model_args(parser, tokens=50, tokens_help="words per answer (>= 4)")
    parser.add_argument(
        "--time-limit", type=float, default=150, help="seconds; no new turn after it"
    )
    args = parser.parse_args(argv)
    args.sessions = max(1, args.sessions)
    args.turns = max(1, args.turns)
    args.tokens = max(4, args.tokens)
    return args


def measure(args: argparse.Namespace, run: Run) -> None:
    """Every session chatting against one server, then the store and the outbox read."""
    with FakeBedrock(ttft=args.ttft, token_delay=args.token_delay) as fake, scratch("load") as tmp:
        server = AppServer.launch(tmp, fake)
        try:
            server.wait_healthy()
            run.chromium, run.opened, run.chatted = asyncio.run(
                drive(server.url, run.sessions, args, run.offhost)
            )
        finally:
            server.stop()
            run.server_log = server.problems()
        run.model_calls = sum(r.operation == "converse-stream" for r in fake.requests)
        run.check = check_store(server.db, run.sessions, args.turns, args.tokens)
        with sqlite3.connect(server.outbox_db) as outbox:
            (run.outbox_pending,) = outbox.execute("SELECT count(*) FROM pending").fetchone()


def print_sessions(run: Run) -> None:
    print(f"chromium {run.chromium} (headless)")
    ready = [s.ready_s for s in run.sessions if s.ready_s is not None]
    if ready:
        print(
            f"{len(ready)}/{len(run.sessions)} sessions opened at once: chat input usable after "
            f"median {statistics.median(ready):.2f} s, slowest {max(ready):.2f} s"
        )
    print()
    print(f"{'session':<16}{'sent':>6}{'done':>6}{'median':>9}{'p90':>9}   (ms, Enter -> answer)")
    for s in run.sessions:
        print(_row(s.user, s.sent, s.completed, s.answered))
    print(_row("all", run.sent, run.completed, [v for s in run.sessions for v in s.answered]))


def print_turns(run: Run, turns: int, timing: ModelTiming) -> None:
    answered = [v for s in run.sessions for v in s.answered]
    redrawn = [v for s in run.sessions for v in s.redrawn]
    print()
    print(
        f"sessions {len(run.sessions)}, turns sent {run.sent}, turns completed {run.completed} "
        f"(of {len(run.sessions) * turns})"
    )
    if not math.isnan(run.chatted):
        print(
            f"wall time {run.chatted:.1f} s (all sessions chatting; opening took "
            f"{run.opened:.1f} s), {run.completed / run.chatted if run.chatted else 0:.2f} turns/s"
        )
    if answered:
        print(
            f"Enter -> full answer visible: median {statistics.median(answered):.0f} ms, "
            f"p90 {p90(answered):.0f} ms (the model alone takes {timing.stream_s * 1000:.0f} ms)"
        )
    if redrawn:
        print(
            f"Enter -> stored dialog redrawn: median {statistics.median(redrawn):.0f} ms, "
            f"p90 {p90(redrawn):.0f} ms"
        )
    by_redraw = sum(s.by_redraw for s in run.sessions)
    print(
        f"full answer first shown by the stored dialog's redraw, not by the stream: "
        f"{by_redraw}/{run.completed}"
    )
    print(f"model calls: {run.model_calls} for {run.sent} questions sent")
    wrong_on_screen = sum(s.on_screen_wrong for s in run.sessions)
    print(f"answers on screen not matching their question: {wrong_on_screen}")


def print_store(run: Run, turns: int) -> None:
    print()
    check = run.check
    if check is not None:
        print(
            f"store: {check.dialogs} dialogs of the last hour for {len(run.sessions)} users; "
            f"{check.exact_users}/{len(run.sessions)} users have exactly their {turns} dialogs"
        )
        print(f"lost: {len(check.lost)}")
        for line in check.lost[:10]:
            print(f"  {line}")
        print(f"crossed: {len(check.crossed)}")
        for line in check.crossed[:10]:
            print(f"  {line}")
        for line in check.other[:10]:
            print(f"store: {line}")
    print(f"outbox pending: {'?' if run.outbox_pending is None else run.outbox_pending}")
    print_offhost(run.offhost)


def print_goals(run: Run, turns: int) -> None:
    print()
    check = run.check
    if check is not None:
        intact = (
            not check.lost
            and not check.crossed
            and not check.other
            and run.outbox_pending == 0
            and check.exact_users == len(run.sessions)
            and sum(s.on_screen_wrong for s in run.sessions) == 0
        )
        print(
            "every turn stored once, under its own user, with its own answer, outbox empty "
            f"(goal: all): {verdict(intact)}"
        )
    expected = len(run.sessions) * turns
    print(
        f"turns completed {run.completed}/{expected} (goal: all): "
        f"{verdict(run.completed == expected)}"
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    timing = ModelTiming.from_args(args)
    print(versions_line())
    print(
        f"{timing.describe()}; "
        f"{args.sessions} sessions x {args.turns} turns, one Chromium, a context each"
    )
    run = Run([Session(user_id(n)) for n in range(1, args.sessions + 1)])
    with errors_noted(run.problems):
        measure(args, run)
    print_sessions(run)
    print_turns(run, args.turns, timing)
    print_store(run, args.turns)
    print_goals(run, args.turns)
    session_problems = [f"{s.user}: {p}" for s in run.sessions for p in s.problems[:3]]
    print_warnings(run.server_log, session_problems + run.problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())
