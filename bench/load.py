"""Many people chatting at once: concurrent sessions of ``streamlit run app.py`` in one Chromium,
against one session alone, with what the server process spends per answer (issue 9, goal 6).

For each app (this checkout's ``app.py``; with ``--app-dir``, another checkout's instead, such
as a worktree of commit 0979a88, before goal 1's block streaming; repeat it to run several
side by side) two runs, each with a server of its own (``harness/app_server.py``) and a fresh
store: one session asking ``--single-turns`` questions, then ``--sessions`` sessions asking
``--turns`` questions each, all at once. Before either, an untimed warm-up session asks one
short question, so that what a server does once (imports, clients, caches) is not counted
against the answers.

One headless Chromium (Debian's, with the flags of ``harness/chromium.py``), a browser context
per session, each a local-mode user ``load-user-NN`` (``/?user=load-user-NN``) driven
concurrently with Playwright's async API. A session types its next question once the answer
is complete and the stored dialog has been redrawn (its feedback buttons show). The sessions
start 1/N of an answer apart, so that once the first answer is done N answers are streaming
at any moment and most first tokens are measured while the others stream.

The loopback Bedrock (``loopback/bedrock.py``) answers every question with ``--tokens``
word-sized deltas, ``--ttft`` seconds before the first and ``--token-delay`` seconds between
the others: "답변: ", the question, then ``bench/wire.py``'s Korean and English prose with a
blank line every 30 words, and a closing mark that repeats the question. Each question names
its user and turn, so each answer proves which question it answered. The default, 3,000
tokens 15 ms apart (about 67 tokens a second, 45 s an answer), is a long answer at a speed
in the range Claude Sonnet models stream at. The loopback Bedrock cuts an answer at the
request's ``maxTokens`` as Bedrock does, and the app's limit (``MAX_TOKENS`` in
``chatbot/llm.py`` then, ``CHAT_MAX_OUTPUT_TOKENS`` now) was 1,024 in the commits of goal 1:
here every answer streams whole.

Measured:

- in the page (``bench/page_marks.py``'s ``MutationObserver``): Enter -> the first answer text
  visible (first token), Enter -> the whole answer visible, Enter -> the stored dialog
  redrawn, and whether the answer on screen then is its question's, whitespace aside (a
  notice under it, such as "queued", is counted apart; otherwise it is read again a second
  later: whole by then is "late", still not is "wrong");
- from ``/proc``, over 10 s with nothing streaming (after the warm-up) and from the start to
  the end of the chatting: the CPU seconds (user + system) of the streamlit server process
  and its children, of the browser (Chromium and Playwright's driver, every process under
  this one but the server) and of this process (the loopback Bedrock and the Playwright
  client), the machine's busy CPU seconds (everything, other people's work too), and the
  server's resident memory idle, after the warm-up, with the sessions open, at the end and
  at its peak. On this 2-core machine Chromium drawing N pages competes with the
  server for the cores, so the server's CPU is counted apart from the browser's, and the
  machine's busy share says whether the cores were saturated (the server's latency suffers
  then, more than its CPU seconds). ``bench/wire.py`` measures what an answer costs on the
  wire;
- afterwards the store is read directly (``SqliteStore.user_dialogs`` per user over the last
  hour): each user must have exactly their own turns, each ``msg`` the answer to its own
  question, none lost, none stored twice, none crossed between users, and the outbox must be
  empty.

    python -m bench.load [--sessions 10] [--turns 3] [--single-turns 5] [--tokens 3000]
                         [--ttft 0.3] [--token-delay 0.015] [--app-dir PATH ...]
                         [--time-limit 900]

A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from bench.common import (
    ROOT,
    ModelTiming,
    add_model_args,
    cpu_seconds,
    errors_noted,
    machine_cpu_seconds,
    percentile,
    proc_status_mb,
    process_tree,
    scratch,
    total_run_line,
    tree_cpu_seconds,
    verdict,
)
from bench.page_marks import (
    ANSWER_JS,
    ARM_JS,
    INPUT_READY_JS,
    PAGE_JS,
    RESULT_JS,
    print_offhost,
    print_warnings,
    versions_line,
    watch_offhost,
)
from bench.wire import PARAGRAPH_WORDS, prose_tokens
from chatbot.rollups import CellFilter
from chatbot.store.base import Dialog, DialogQuery, Status
from chatbot.store.sqlite import SqliteStore
from harness.app_server import STARTUP_TIMEOUT_S, AppServer
from harness.chromium import CONTEXT_OPTIONS, launch_browser
from loopback.bedrock import FakeBedrock, RecordedRequest, Reply, last_user_text, split_tokens

ANSWER_PREFIX = "답변: "
USER_ID = re.compile(r"load-user-\d+")
BLANK = re.compile(r"\s+")
# Before the timing, one untimed session asks one short question, so that what a server does
# once (imports, clients, caches) is not counted against the answers.
WARMUP_USER = "load-warmup"
WARMUP_TOKENS = 300  # a few paragraphs: every path of a streamed answer runs once
LATE_CHECK_S = 1.0  # an answer not whole at the redraw is read again this much later
IDLE_SAMPLE_S = 10.0  # the server's CPU with no answer streaming, after the warm-up


def user_id(n: int) -> str:
    return f"load-user-{n:02d}"


def question(user: str, turn: int) -> str:
    return f"{user} 질문 {turn}: 서울에서 하루를 보낼 계획을 자세히 알려 주세요."


def closing_mark(question: str) -> str:
    """The answer's last words: found nowhere before them, so the page marks the end by it."""
    return f"(끝: {question})"


def answer_tokens(question: str, tokens: int) -> list[str]:
    """The loopback model's answer to ``question``: ``tokens`` deltas (at least the question's
    own and two), "답변: " and the question first, the closing mark last."""
    head = [ANSWER_PREFIX, *split_tokens(question + "\n\n")]
    prose = prose_tokens(max(1, tokens - len(head) - 1), PARAGRAPH_WORDS)
    return [*head, *prose, " " + closing_mark(question)]


def answer(question: str, tokens: int) -> str:
    return "".join(answer_tokens(question, tokens))


class WholeReply(Reply):
    """A reply streamed whole, past the request's ``maxTokens``: the same answers for every
    checkout, whatever its limit (1,024 tokens in the commits of goal 1)."""

    def output(self, body: dict[str, Any]) -> tuple[list[str], str]:
        return self.token_list(), self.stop_reason


@dataclass(frozen=True)
class Model:
    """The loopback model's side: the answer to the question it is asked."""

    timing: ModelTiming

    def responder(self, request: RecordedRequest) -> Reply:
        asked = last_user_text(request.body)
        tokens = WARMUP_TOKENS if asked.startswith(WARMUP_USER) else self.timing.tokens
        return WholeReply(
            tokens=answer_tokens(asked, tokens),
            ttft=self.timing.ttft,
            token_delay=self.timing.token_delay,
        )


# --------------------------------------------------------------------------- the sessions


@dataclass
class Session:
    user: str
    context: BrowserContext | None = None
    page: Page | None = None
    ready_s: float | None = None  # seconds from the start of opening to a usable chat input
    sent: int = 0
    first: list[float] = field(default_factory=list)  # ms, Enter -> first answer text
    answered: list[float] = field(default_factory=list)  # ms, Enter -> full answer in the DOM
    redrawn: list[float] = field(default_factory=list)  # ms, Enter -> stored dialog redrawn
    notices: list[str] = field(default_factory=list)  # shown under an answer (queued, say)
    shown_late: int = 0  # not whole at the redraw, whole a moment later
    on_screen_wrong: int = 0  # the answer on screen is not the answer to this question
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


async def chat(session: Session, plan: Plan, delay: float, deadline: float) -> None:
    """``plan.turns`` questions, one after the other, the first ``delay`` seconds late."""
    page = session.page
    if page is None or session.ready_s is None:
        return
    await asyncio.sleep(delay)
    chat_input = page.get_by_test_id("stChatInputTextArea")
    for turn in range(1, plan.turns + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            session.problems.append(f"time limit: stopped before turn {turn}")
            return
        text = question(session.user, turn)
        timeout_ms = int(plan.turn_timeout_s * 1000)
        try:
            await chat_input.fill(text, timeout=timeout_ms)
            await page.evaluate(
                ARM_JS, [turn - 1, ANSWER_PREFIX.strip(), closing_mark(text), timeout_ms]
            )
            await chat_input.press("Enter", timeout=timeout_ms)
            session.sent += 1
            marks = await page.evaluate(RESULT_JS)
        except Exception as error:
            session.problems.append(f"turn {turn}: {type(error).__name__}: {error}")
            return
        enter = marks["enter"]
        if enter is not None and marks["first"] is not None:
            session.first.append(marks["first"] - enter)
        if enter is not None and marks["last"] is not None:
            session.answered.append(marks["last"] - enter)
        if marks["timedOut"] or enter is None or marks["done"] is None:
            shown = "no answer" if marks["last"] is None else "answer but no redraw"
            session.problems.append(f"turn {turn}: {shown} within {timeout_ms / 1000:g} s")
            return  # the next question would land on the wrong message index
        session.redrawn.append(marks["done"] - enter)
        await check_shown(session, page, turn, marks["text"], answer(text, plan.tokens))


async def check_shown(
    session: Session, page: Page, turn: int, at_redraw: str | None, answer: str
) -> None:
    """Whether the message on screen at the redraw is ``answer``, whitespace aside. A notice
    under it (its Markdown is part of the message) is counted apart; anything else is read
    again a moment later: whole by then is late, still not is wrong."""
    expected, shown = BLANK.sub("", answer), BLANK.sub("", at_redraw or "")
    if shown == expected:
        return
    if shown.startswith(expected):
        session.notices.append(shown[len(expected) :])
        return
    await asyncio.sleep(LATE_CHECK_S)
    later = BLANK.sub("", await page.evaluate(ANSWER_JS, turn - 1) or "")
    whole = later.startswith(expected)
    if whole:
        session.shown_late += 1
    else:
        session.on_screen_wrong += 1
    session.problems.append(
        f"turn {turn}: at the redraw {len(shown):,} of {len(expected):,} characters shown, "
        f"ending {shown[-30:]!r}; {LATE_CHECK_S:g} s later {'whole' if whole else 'still not'}"
    )


# --------------------------------------------------------------------------- what /proc says


@dataclass(frozen=True)
class Usage:
    """CPU seconds and bytes so far, read from ``/proc`` at one moment."""

    at: float  # time.monotonic()
    server_cpu: float  # the streamlit process and its children
    browser_cpu: float  # every process under this one but the server's: Chromium, Playwright
    bench_cpu: float  # this process: the loopback Bedrock, the Playwright client
    machine_busy: float  # every core of the machine, everyone's work

    @classmethod
    def now(cls, server_pid: int) -> Usage:
        server = process_tree(server_pid)
        browser = [p for p in process_tree(os.getpid()) if p != os.getpid() and p not in server]
        busy, _ = machine_cpu_seconds()
        return cls(
            at=time.monotonic(),
            server_cpu=tree_cpu_seconds(server),
            browser_cpu=tree_cpu_seconds(browser),
            bench_cpu=cpu_seconds(os.getpid(), reaped=False),
            machine_busy=busy,
        )

    def since(self, start: Usage) -> Usage:
        return Usage(
            at=self.at - start.at,
            server_cpu=self.server_cpu - start.server_cpu,
            browser_cpu=self.browser_cpu - start.browser_cpu,
            bench_cpu=self.bench_cpu - start.bench_cpu,
            machine_busy=self.machine_busy - start.machine_busy,
        )


@dataclass
class Memory:
    """The server's resident memory in MB: idle (healthy, no session yet), after the warm-up
    session's turn, with every session open, after the chatting, and its peak."""

    idle: float | None = None
    warm: float | None = None
    opened: float | None = None
    end: float | None = None
    peak: float | None = None


# --------------------------------------------------------------------------- one run


@dataclass(frozen=True)
class App:
    label: str
    folder: Path


@dataclass(frozen=True)
class Plan:
    """One run: ``sessions`` users asking ``turns`` questions each, of one app."""

    app: App
    sessions: int
    turns: int
    tokens: int
    stream_s: float  # the model's own time for one answer
    time_limit_s: float

    @property
    def turn_timeout_s(self) -> float:
        return 60 + 4 * self.stream_s

    @property
    def name(self) -> str:
        people = "1 session" if self.sessions == 1 else f"{self.sessions} sessions"
        return f"{self.app.label}, {people} x {self.turns} turns"


@dataclass
class StoreCheck:
    dialogs: int = 0
    lost: list[str] = field(default_factory=list)
    crossed: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)  # duplicates, not complete, strangers
    exact_users: int = 0  # users with exactly their turns, all correct


@dataclass
class Run:
    """What a run gathered, printed at the end whatever went wrong."""

    plan: Plan
    sessions: list[Session]
    problems: list[str] = field(default_factory=list)
    offhost: list[str] = field(default_factory=list)  # the browser's requests off loopback
    server_log: list[str] = field(default_factory=list)  # the server's trouble lines
    chromium: str = "?"
    idle: Usage | None = None  # nothing streaming, after the warm-up
    opened: Usage | None = None  # opening every session
    chatted: Usage | None = None  # every session chatting
    memory: Memory = field(default_factory=Memory)
    model_calls: int = 0
    check: StoreCheck | None = None
    outbox_pending: int | None = None

    @property
    def sent(self) -> int:
        return sum(s.sent for s in self.sessions)

    @property
    def completed(self) -> int:
        return sum(s.completed for s in self.sessions)

    def values(self, pick: Callable[[Session], list[float]]) -> list[float]:
        return [v for s in self.sessions for v in pick(s)]

    @property
    def intact(self) -> bool:
        check = self.check
        return (
            check is not None
            and not check.lost
            and not check.crossed
            and not check.other
            and self.outbox_pending == 0
            and check.exact_users == len(self.sessions)
            and sum(s.on_screen_wrong for s in self.sessions) == 0
        )

    @property
    def notices(self) -> list[str]:
        return [notice for s in self.sessions for notice in s.notices]

    @property
    def shown_late(self) -> int:
        return sum(s.shown_late for s in self.sessions)

    @property
    def on_screen_wrong(self) -> int:
        return sum(s.on_screen_wrong for s in self.sessions)


async def drive(url: str, server_pid: int, run: Run) -> None:
    """Open every session, then chat in all at once, reading ``/proc`` around both."""
    plan = run.plan
    async with async_playwright() as playwright:
        browser = await launch_browser(playwright)
        run.chromium = browser.version
        try:
            await warm_up(browser, url, run)
            run.memory.warm = proc_status_mb(server_pid, "VmRSS")
            quiet = Usage.now(server_pid)
            await asyncio.sleep(IDLE_SAMPLE_S)
            start = Usage.now(server_pid)
            run.idle = start.since(quiet)
            started = time.monotonic()
            await asyncio.gather(
                *(open_session(browser, url, s, run.offhost, started) for s in run.sessions)
            )
            opened = Usage.now(server_pid)
            run.opened = opened.since(start)
            run.memory.opened = proc_status_mb(server_pid, "VmRSS")
            deadline = time.monotonic() + plan.time_limit_s
            apart = plan.stream_s / len(run.sessions)
            await asyncio.gather(
                *(chat(s, plan, i * apart, deadline) for i, s in enumerate(run.sessions))
            )
            run.chatted = Usage.now(server_pid).since(opened)
        finally:
            await browser.close()


async def warm_up(browser: Browser, url: str, run: Run) -> None:
    """One untimed session asks one short question, and leaves."""
    session = Session(WARMUP_USER)
    plan = replace(run.plan, turns=1, tokens=WARMUP_TOKENS)
    await open_session(browser, url, session, run.offhost, time.monotonic())
    await chat(session, plan, 0, time.monotonic() + plan.turn_timeout_s)
    if session.context is not None:
        await session.context.close()
    run.problems += [f"warm-up: {problem}" for problem in session.problems]


def check_store(db: Path, plan: Plan, sessions: list[Session]) -> StoreCheck:
    store = SqliteStore(db)
    now = datetime.now(UTC)
    since = now - timedelta(hours=1)
    result = StoreCheck()
    for session in sessions:
        rows: list[Dialog] = store.user_dialogs(session.user, since)
        result.dialogs += len(rows)
        mine = {question(session.user, t): t for t in range(1, plan.turns + 1)}
        good: dict[int, int] = {}
        for row in rows:
            turn = mine.get(row.body)
            if turn is None or set(USER_ID.findall(row.body)) != {session.user}:
                result.crossed.append(f"{session.user} holds {row.body[:40]!r}")
            elif row.msg != answer(row.body, plan.tokens):
                result.crossed.append(f"{session.user} turn {turn} answered {row.msg[:40]!r}")
            else:
                if row.status != Status.COMPLETE:
                    result.other.append(f"{session.user} turn {turn}: {row.status}")
                good[turn] = good.get(turn, 0) + 1
        result.other.extend(
            f"{session.user} turn {turn} stored {count} times"
            for turn, count in sorted(good.items())
            if count > 1
        )
        # Lost: a question that was sent (Enter pressed) but is not in the store, correct.
        result.lost.extend(
            f"{session.user} turn {turn}" for turn in range(1, session.sent + 1) if turn not in good
        )
        if len(rows) == plan.turns and sorted(good) == list(range(1, plan.turns + 1)):
            result.exact_users += 1
    query = DialogQuery(since, now + timedelta(minutes=5), CellFilter())
    everyone: list[Dialog] = []
    cursor: str | None = None
    while True:
        page = store.dialog_page(query, 1000, cursor, text_chars=0)
        everyone += page.dialogs
        if (cursor := page.cursor) is None:
            break
    ours = {s.user for s in sessions} | {WARMUP_USER}
    strangers = sorted({d.user_id for d in everyone} - ours)
    if strangers:
        result.other.append(f"dialogs of users no session was: {strangers}")
    return result


def measure(run: Run, model: Model) -> None:
    """One server of the plan's app, every session chatting, then the store and outbox read."""
    plan = run.plan
    with FakeBedrock(model.responder) as fake, scratch("load") as tmp:
        server = AppServer.launch(tmp, fake, plan.app.folder / "app.py")
        try:
            server.wait_healthy()
            run.memory.idle = proc_status_mb(server.proc.pid, "VmRSS")
            asyncio.run(drive(server.url, server.proc.pid, run))
            run.memory.end = proc_status_mb(server.proc.pid, "VmRSS")
            run.memory.peak = proc_status_mb(server.proc.pid, "VmHWM")
        finally:
            server.stop()
            run.server_log = server.problems()
        run.model_calls = sum(r.operation == "converse-stream" for r in fake.requests)
        run.check = check_store(server.db, plan, run.sessions)
        with sqlite3.connect(server.outbox_db) as outbox:
            (run.outbox_pending,) = outbox.execute("SELECT count(*) FROM pending").fetchone()


# --------------------------------------------------------------------------- what is printed


def checkout_label(folder: Path) -> str:
    """The folder's commit, and whether its files differ from it."""
    try:
        git = ["git", "-C", str(folder)]
        commit = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            [*git, "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return folder.name
    return f"{commit}{' + changes' if dirty else ''}"


def print_run(run: Run) -> None:
    """Each session's turns, then the run's problems."""
    print()
    print(f"== {run.plan.name} ({run.plan.app.folder})")
    ready = [s.ready_s for s in run.sessions if s.ready_s is not None]
    if ready:
        print(
            f"{len(ready)}/{len(run.sessions)} sessions opened at once: chat input usable after "
            f"median {statistics.median(ready):.2f} s, slowest {max(ready):.2f} s"
        )
    print(
        f"{'session':<16}{'sent':>5}{'done':>5}{'first p50':>11}{'first max':>11}"
        f"{'answer p50':>12}{'answer max':>12}   (ms from Enter)"
    )
    for s in run.sessions:
        print(_session_row(s.user, s.sent, s.completed, s.first, s.answered))
    first, answered = run.values(lambda s: s.first), run.values(lambda s: s.answered)
    print(_session_row("all", run.sent, run.completed, first, answered))
    for notice in sorted(set(run.notices)):
        print(f"notice under {run.notices.count(notice)} answer(s): {notice[:70]!r}")
    problems = [f"{s.user}: {p}" for s in run.sessions for p in s.problems[:3]]
    print_warnings(run.server_log, problems + run.problems)


def _session_row(
    label: str, sent: int, done: int, first: list[float], answered: list[float]
) -> str:
    cells: list[tuple[list[float], Callable[[list[float]], float], int]] = [
        (first, statistics.median, 11),
        (first, max, 11),
        (answered, statistics.median, 12),
        (answered, max, 12),
    ]
    shown = "".join(
        f"{how(values):>{width}.0f}" if values else f"{'-':>{width}}"
        for values, how, width in cells
    )
    return f"{label:<16}{sent:>5}{done:>5}{shown}"


def _per(total: float | None, count: float, digits: int, scale: float = 1.0) -> str:
    """``total / count / scale`` with ``digits`` decimals; a dash without a figure."""
    if total is None or not count:
        return "-"
    return f"{total / count / scale:,.{digits}f}"


def _ms(values: list[float], q: int) -> str:
    return f"{percentile(values, q):,.0f}" if values else "-"


def _mb(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def _chatted(run: Run, figure: str) -> float | None:
    """A figure of ``Usage`` over the chatting (``at``: its wall seconds), None without it."""
    return None if run.chatted is None else getattr(run.chatted, figure)


def _wall(run: Run) -> float:
    return _chatted(run, "at") or 0.0


def _idle_cores(run: Run) -> float | None:
    """The server's CPU seconds per second with nothing streaming."""
    return None if run.idle is None else run.idle.server_cpu / run.idle.at


def _busy_cpu(run: Run) -> float | None:
    """The server's CPU seconds over the chatting, less what it spends idle."""
    cpu, idle = _chatted(run, "server_cpu"), _idle_cores(run)
    return None if cpu is None or idle is None else cpu - idle * _wall(run)


def _opening_cpu(run: Run) -> float | None:
    return None if run.opened is None else run.opened.server_cpu


def _streaming_s(run: Run) -> float:
    """Seconds of answers in flight, Enter to redraw, summed over the sessions."""
    return sum(run.values(lambda s: s.redrawn)) / 1000


# A line of the side-by-side table: its label and how a run's cell is written.
ROWS: list[tuple[str, Callable[[Run], str]]] = [
    ("answers completed / asked", lambda r: f"{r.completed}/{r.sent}"),
    ("first token p50 (ms)", lambda r: _ms(r.values(lambda s: s.first), 50)),
    ("first token p95 (ms)", lambda r: _ms(r.values(lambda s: s.first), 95)),
    ("whole answer p50 (ms)", lambda r: _ms(r.values(lambda s: s.answered), 50)),
    ("whole answer p95 (ms)", lambda r: _ms(r.values(lambda s: s.answered), 95)),
    ("chatting wall time (s)", lambda r: _per(_wall(r), 1, 1)),
    ("answers per minute", lambda r: _per(r.completed * 60.0, _wall(r), 1)),
    ("tokens streamed per s", lambda r: _per(r.completed * r.plan.tokens, _wall(r), 0)),
    ("answers streaming at once (mean)", lambda r: _per(_streaming_s(r), _wall(r), 1)),
    ("server CPU s per answer", lambda r: _per(_chatted(r, "server_cpu"), r.completed, 2)),
    ("  less its idle CPU", lambda r: _per(_busy_cpu(r), r.completed, 2)),
    ("server cores busy (CPU s / wall s)", lambda r: _per(_chatted(r, "server_cpu"), _wall(r), 2)),
    ("server cores busy idle", lambda r: _per(_idle_cores(r), 1, 4)),
    ("browser CPU s per answer", lambda r: _per(_chatted(r, "browser_cpu"), r.completed, 2)),
    ("bench CPU s per answer", lambda r: _per(_chatted(r, "bench_cpu"), r.completed, 2)),
    ("machine cores busy (of 2)", lambda r: _per(_chatted(r, "machine_busy"), _wall(r), 2)),
    ("server CPU s opening a session", lambda r: _per(_opening_cpu(r), len(r.sessions), 2)),
    ("server RSS idle (MB)", lambda r: _mb(r.memory.idle)),
    ("server RSS after the warm-up (MB)", lambda r: _mb(r.memory.warm)),
    ("server RSS, sessions open (MB)", lambda r: _mb(r.memory.opened)),
    ("server RSS at the end (MB)", lambda r: _mb(r.memory.end)),
    ("server RSS peak (MB)", lambda r: _mb(r.memory.peak)),
    ("model calls (with the warm-up's)", lambda r: str(r.model_calls)),
    ("answers with a notice under them", lambda r: str(len(r.notices))),
    ("answers whole only after the redraw", lambda r: str(r.shown_late)),
    ("answers wrong on screen", lambda r: str(r.on_screen_wrong)),
]  # fmt: skip


def print_table(runs: list[Run]) -> None:
    """Every run side by side, a column each."""
    print()
    width = max(16, *(len(r.plan.app.label) + 2 for r in runs))
    heads = [("", lambda r: r.plan.app.label), ("sessions x turns", _shape), *ROWS]
    for name, cell in heads:
        print(f"{name:<36}" + "".join(f"{cell(r):>{width}}" for r in runs))


def _shape(run: Run) -> str:
    return f"{run.plan.sessions} x {run.plan.turns}"


def _store(run: Run) -> str:
    check = run.check
    if check is None:
        return "not read"
    twice = sum("stored" in line for line in check.other)
    return (
        f"{check.exact_users}/{len(run.sessions)} users exact, {check.dialogs} dialogs, "
        f"lost {len(check.lost)}, crossed {len(check.crossed)}, twice {twice}, "
        f"outbox pending {run.outbox_pending}"
    )


def print_goals(runs: list[Run]) -> None:
    print()
    for run in runs:
        print(f"store, {run.plan.name}: {_store(run)}")
        check = run.check
        if check is not None:
            for line in [*check.lost[:5], *check.crossed[:5], *check.other[:5]]:
                print(f"  {line}")
    print()
    for run in runs:
        asked = run.plan.sessions * run.plan.turns
        print(
            f"{run.plan.name}: every turn stored once, under its own user, with its own answer, "
            f"outbox empty (goal: all): {verdict(run.intact)}; "
            f"turns completed {run.completed}/{asked}: {verdict(run.completed == asked)}; "
            f"answers whole only after their redraw: {run.shown_late}"
        )
    print_offhost([url for run in runs for url in run.offhost])


# --------------------------------------------------------------------------- the command


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10, help="concurrent users")
    parser.add_argument("--turns", type=int, default=3, help="questions per concurrent user")
    parser.add_argument(
        "--single-turns", type=int, default=5, help="questions of the one-session run (0: none)"
    )
    add_model_args(parser, tokens=3000, tokens_help="deltas per answer")
    parser.set_defaults(token_delay=0.015)
    parser.add_argument(
        "--app-dir",
        type=Path,
        action="append",
        default=[],
        help="run another checkout's app.py instead of this one's (repeatable: side by side)",
    )
    parser.add_argument(
        "--time-limit", type=float, default=900, help="seconds per run; no new turn after it"
    )
    args = parser.parse_args(argv)
    args.sessions, args.turns = max(1, args.sessions), max(1, args.turns)
    args.tokens = max(20, args.tokens)
    return args


def plans(args: argparse.Namespace, timing: ModelTiming) -> list[Plan]:
    """For each app, one session alone, then every session at once."""
    folders = [folder.resolve() for folder in args.app_dir] or [ROOT]
    apps = [App(checkout_label(folder), folder) for folder in folders]
    shapes = [(1, args.single_turns)] if args.single_turns > 0 else []
    shapes.append((args.sessions, args.turns))
    return [
        Plan(app, sessions, turns, args.tokens, timing.stream_s, args.time_limit)
        for app in apps
        for sessions, turns in shapes
    ]


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = parse_args(argv)
    timing = ModelTiming.from_args(args)
    print(versions_line())
    chars = len(answer(question(user_id(1), 1), args.tokens))
    print(f"{timing.describe()}; an answer is {chars:,} characters")
    runs = []
    for plan in plans(args, timing):
        run = Run(plan, [Session(user_id(n)) for n in range(1, plan.sessions + 1)])
        with errors_noted(run.problems):
            measure(run, Model(timing))
        print_run(run)
        runs.append(run)
    print(f"chromium {runs[0].chromium} (headless)")
    print_table(runs)
    print_goals(runs)
    print(total_run_line(started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
