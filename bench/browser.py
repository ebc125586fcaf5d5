"""What a person sees: cold start and streamed answers in Chromium, next to the model's timeline.

``streamlit run app.py`` talks to the loopback Bedrock (``loopback/bedrock.py``), which answers
every request with ``--tokens`` text deltas, ``--ttft`` seconds before the first and
``--token-delay`` seconds between the others. Headless Chromium (Debian's, with the flags of
``harness/chromium.py``) measures:

- cold start, ``--cold`` times for each of two apps, interleaved: the app, and as the baseline
  a hello-world chat (``st.chat_input``, ``st.chat_message``, ``st.write_stream``; no AWS, no
  LangChain) launched the same way (``harness/app_server.py``). From launching ``streamlit
  run`` (a new server process each time, fresh SQLite files, a new browser context so nothing
  is cached) to the chat input visible and enabled in the page; the ratio of the medians,
  app / hello world, against the goal of issue 9. The browser itself is already running.
- the first answer after a cold start: in each cold-started page of the app, the first question
  is asked ``--ask-after`` seconds after the chat input is usable (2 by default, less than
  anyone takes to type a question; 0 is the worst case for work the app does once its page is
  drawn), with the same figures as the turns below.
- per turn, ``--turns`` questions in a new page of the last server (after ``--warmup``
  untimed ones): Enter pressed -> first answer text in the assistant message, Enter -> last
  token in it, and Enter -> the stored dialog redrawn (feedback buttons). Against the model's
  own timeline: the fake's replies stamp the wall-clock time each token was written to the
  socket (``Reply.token_list`` is overridden to hand out a list that records each hand-out), so
  "model first token -> first text visible" is what the pipeline (botocore, LangChain,
  Streamlit, websocket, React) adds.

``--app-dir`` runs the same benchmark against another checkout's ``app.py`` (a worktree of an
older commit, say), next to the same hello world, to compare before and after a change.

In the page a ``MutationObserver`` (installed before any page script) stamps each change with
``performance.now()``; ``performance.timeOrigin`` turns that into wall-clock time, checked
against this process's clock. A change is stamped when it is in the DOM; the frame that paints
it follows (the "DOM -> next frame" line says how soon).

    python -m bench.browser [--cold 5] [--turns 10] [--warmup 1] [--ttft 0.3]
                            [--token-delay 0.01] [--tokens 200] [--ask-after 2]
                            [--app-dir DIR] [--time-limit 240]

``bench/page_marks.py`` holds the in-page script, shared with ``bench/load.py`` and
``bench/wire.py`` (which also uses this module's clock offset and model timeline). A benchmark,
not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from playwright.sync_api import Browser, Page, sync_playwright

from bench.common import (
    ROOT,
    ModelTiming,
    add_model_args,
    errors_noted,
    goal_line,
    korean_tokens,
    median_p90,
    scratch,
)
from bench.page_marks import (
    ARM_JS,
    INPUT_READY_JS,
    PAGE_JS,
    PAGE_NOW_JS,
    RESULT_JS,
    print_offhost,
    print_warnings,
    versions_line,
    watch_offhost,
)
from harness.app_server import STARTUP_TIMEOUT_S, AppServer
from harness.chromium import CONTEXT_OPTIONS, launch_browser
from loopback.bedrock import FakeBedrock, RecordedRequest, Reply, last_user_text

LAG_GOAL_MS = 100.0  # the classic limit of "instantaneous" (Nielsen): the pipeline's share
COLD_GOAL_S = 10.0  # the classic limit of keeping attention (Nielsen): launch to a usable page
COLD_RATIO_GOAL = 1.3  # issue 9: the app's cold start at most 1.3 x a hello-world chat's
HELLO, APP = "hello world", "app"

# The cold-start baseline: the least a Streamlit chat is. It streams a canned answer, so it
# imports neither boto3 nor LangChain.
HELLO_APP = '''\
"""A hello-world Streamlit chat: bench/browser.py's cold-start baseline."""

import time

import streamlit as st


def answer(question):
    for word in f"You said: {question}".split():
        time.sleep(0.01)
        yield word + " "


if question := st.chat_input("Ask something"):
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        st.write_stream(answer(question))
'''

# --- pages --------------------------------------------------------------------------------------


def clock_offset(page: Page, tries: int = 5) -> tuple[float, float]:
    """(page clock - this clock, uncertainty) in ms, from the quickest of ``tries`` reads."""
    best: tuple[float, float] | None = None
    for _ in range(tries):
        before = time.time() * 1000
        in_page = float(page.evaluate(PAGE_NOW_JS))
        after = time.time() * 1000
        sample = (in_page - (before + after) / 2, (after - before) / 2)
        if best is None or sample[1] < best[1]:
            best = sample
    assert best is not None
    return best


# --- the model's timeline -----------------------------------------------------------------------


class SentTimes(list[str]):
    """The tokens of one reply; iterating them (as the fake's stream loop does) stamps
    ``time.time()`` each time the loop comes back for the next token, that is right after the
    previous token was written to the socket (the fake's ``wfile`` is unbuffered)."""

    def __init__(self, tokens: list[str]) -> None:
        super().__init__(tokens)
        self.sent: list[float] = []

    def __iter__(self):  # type: ignore[override]
        for token in list.__iter__(self):
            yield token
            self.sent.append(time.time())


@dataclass
class TimedReply(Reply):
    sent_times: SentTimes | None = None

    def token_list(self) -> list[str]:
        return self.sent_times if self.sent_times is not None else super().token_list()


@dataclass
class ModelCall:
    arrived: float  # time.time() when the fake picked its reply (the request was read)
    question: str
    tokens: SentTimes
    ttft: float
    token_delay: float

    def first_sent(self) -> tuple[float, bool]:
        """When the first token left, and whether that was measured (else estimated)."""
        if self.tokens.sent:
            return self.tokens.sent[0], True
        return self.arrived + self.ttft, False

    def last_sent(self) -> tuple[float, bool]:
        if len(self.tokens.sent) == len(self.tokens):
            return self.tokens.sent[-1], True
        return self.arrived + self.ttft + (len(self.tokens) - 1) * self.token_delay, False


def turn_tag(turn: int) -> str:
    """What starts each token of a turn's answer, so the answer shows which turn it is."""
    return f"t{turn}"


@dataclass
class TimedBedrock:
    """A FakeBedrock whose every stream records its arrival and each token's departure."""

    ttft: float
    token_delay: float
    tokens: int
    calls: list[ModelCall] = field(default_factory=list)

    def responder(self, request: RecordedRequest) -> Reply:
        arrived = time.time()
        sent = SentTimes(korean_tokens(self.tokens, turn_tag(len(self.calls))))
        question = last_user_text(request.body)
        self.calls.append(ModelCall(arrived, question, sent, self.ttft, self.token_delay))
        return TimedReply(ttft=self.ttft, token_delay=self.token_delay, sent_times=sent)


# --- measurements -------------------------------------------------------------------------------


@dataclass
class ColdStart:
    healthy: float  # seconds from launch: /_stcore/health said ok
    loaded: float  # the page's load event ended (asked for as soon as the server was healthy)
    interactive: float  # the chat input was visible and enabled


@dataclass
class TurnSample:
    label: str
    enter_to_request: float  # ms
    enter_to_first: float
    enter_to_last: float
    enter_to_done: float
    first_lag: float  # model's first token written -> first text in the DOM
    last_lag: float
    model_ttft: float  # request read -> first token written, as the fake did it
    frame_gap: float  # DOM change -> next animation frame, for the first text
    measured: bool  # the model's times are measured, not estimated
    text_ok: bool
    last_by_redraw: bool  # the last token first showed up with the stored dialog's redraw


def open_page(browser: Browser, url: str, user: str, offhost: list[str]) -> Page:
    context = browser.new_context(**CONTEXT_OPTIONS)
    context.add_init_script(PAGE_JS)
    watch_offhost(context, offhost)
    page = context.new_page()
    page.goto(f"{url}/?user={user}", wait_until="commit", timeout=STARTUP_TIMEOUT_S * 1000)
    return page


def wait_input_ready(page: Page, timeout_s: float = STARTUP_TIMEOUT_S) -> float:
    """performance.now() when the chat input was first visible and enabled."""
    page.wait_for_function(INPUT_READY_JS, polling=50, timeout=timeout_s * 1000)
    return float(page.evaluate("() => window.__bench.inputReady"))


def cold_start(
    browser: Browser, server: AppServer, offhost: list[str]
) -> tuple[ColdStart, Page, float]:
    """``server``, just launched, to a usable chat input in a new page: the sample, the page
    (left open) and its clock offset."""
    healthy = server.wait_healthy()
    page = open_page(browser, server.url, "bench-cold", offhost)
    ready = wait_input_ready(page)
    offset, _ = clock_offset(page)
    origin = float(page.evaluate("() => performance.timeOrigin"))
    load_end = float(
        page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
    )
    interactive = (origin + ready - offset) / 1000
    loaded = (origin + load_end - offset) / 1000
    sample = ColdStart(
        healthy - server.launched, loaded - server.launched, interactive - server.launched
    )
    return sample, page, offset


def run_turn(
    page: Page, index: int, bedrock: TimedBedrock, offset: float, label: str, timeout_s: float
) -> TurnSample | str:
    """Ask one question in ``page``; the sample, or what went wrong."""
    tokens = korean_tokens(bedrock.tokens, turn_tag(len(bedrock.calls)))
    first, last = tokens[0].strip(), tokens[-1].strip()
    calls_before = len(bedrock.calls)
    chat_input = page.get_by_test_id("stChatInputTextArea")
    chat_input.fill(f"브라우저 벤치 질문 {index + 1}: 서울에서 주말에 가볼 만한 곳은?")
    page.evaluate(ARM_JS, [index, first, last, int(timeout_s * 1000)])
    chat_input.press("Enter")
    marks = page.evaluate(RESULT_JS)
    origin = float(page.evaluate("() => performance.timeOrigin"))
    if marks["timedOut"] or None in (marks["enter"], marks["first"], marks["last"]):
        return f"{label}: no complete answer within {timeout_s:g} s: {marks}"
    if len(bedrock.calls) != calls_before + 1:
        return f"{label}: {len(bedrock.calls) - calls_before} model calls for one question"
    call = bedrock.calls[-1]

    def wall(mark: float) -> float:  # page performance.now() -> this process's epoch ms
        return origin + mark - offset

    enter = wall(marks["enter"])
    first_sent, measured_first = call.first_sent()
    last_sent, measured_last = call.last_sent()
    expected = "".join(call.tokens).strip()
    return TurnSample(
        label=label,
        enter_to_request=call.arrived * 1000 - enter,
        enter_to_first=marks["first"] - marks["enter"],
        enter_to_last=marks["last"] - marks["enter"],
        enter_to_done=marks["done"] - marks["enter"],
        first_lag=wall(marks["first"]) - first_sent * 1000,
        last_lag=wall(marks["last"]) - last_sent * 1000,
        model_ttft=(first_sent - call.arrived) * 1000,
        frame_gap=(marks["firstFrame"] or marks["first"]) - marks["first"],
        measured=measured_first and measured_last,
        text_ok=(marks["text"] or "").strip() == expected,
        last_by_redraw=marks["last"] >= marks["done"],
    )


def _turn_row(s: TurnSample) -> str:
    return (
        f"{s.label:<6}{s.enter_to_request:>9.0f}{s.enter_to_first:>9.0f}{s.enter_to_last:>9.0f}"
        f"{s.enter_to_done:>9.0f}{s.model_ttft:>8.0f}{s.first_lag:>9.1f}{s.last_lag:>9.1f}"
        f"{'  (last token came with the redraw)' if s.last_by_redraw else ''}"
        f"{'' if s.text_ok else '  TEXT MISMATCH'}"
    )


@dataclass
class Run:
    """What a run gathered, printed at the end whatever went wrong."""

    colds: dict[str, list[ColdStart]] = field(default_factory=lambda: {HELLO: [], APP: []})
    first_answers: list[TurnSample] = field(default_factory=list)  # right after a cold start
    samples: list[TurnSample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    offhost: list[str] = field(default_factory=list)  # the browser's requests off loopback
    server_log: list[str] = field(default_factory=list)  # the last server's trouble lines
    offset_note: str = ""

    @property
    def timed(self) -> list[TurnSample]:
        return [s for s in self.samples if not s.label.startswith("w")]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=5, help="cold starts of each app")
    parser.add_argument("--turns", type=int, default=10, help="timed turns in one page")
    parser.add_argument("--warmup", type=int, default=1, help="untimed turns before them")
    add_model_args(parser, tokens=200, tokens_help="text deltas per answer")
    parser.add_argument(
        "--ask-after",
        type=float,
        default=2.0,
        help="seconds from a usable chat input to the first question after a cold start",
    )
    parser.add_argument(
        "--app-dir", type=Path, default=ROOT, help="the checkout whose app.py is measured"
    )
    parser.add_argument(
        "--time-limit", type=float, default=240, help="seconds; no new run or turn after it"
    )
    args = parser.parse_args(argv)
    if not (args.app_dir / "app.py").is_file():
        parser.error(f"no app.py in {args.app_dir}")
    args.cold, args.turns, args.warmup = max(1, args.cold), max(1, args.turns), max(0, args.warmup)
    args.tokens = max(2, args.tokens)
    return args


def measure(args: argparse.Namespace, bedrock: TimedBedrock, fake: FakeBedrock, run: Run) -> None:
    """The cold starts, then the turns in a page of the last server started."""
    deadline = time.monotonic() + args.time_limit
    with scratch("browser") as tmp, sync_playwright() as playwright:
        browser = launch_browser(playwright)
        print(f"chromium {browser.version} (headless)")
        server: AppServer | None = None
        try:
            server = cold_starts(browser, tmp, fake, bedrock, args, deadline, run)
            ask_turns(browser, server, bedrock, args, deadline, run)
        finally:
            browser.close()
            if server is not None:
                server.stop()
                run.server_log = server.problems()


def cold_starts(
    browser: Browser,
    tmp: Path,
    fake: FakeBedrock,
    bedrock: TimedBedrock,
    args: argparse.Namespace,
    deadline: float,
    run: Run,
) -> AppServer:
    """``args.cold`` launches of each app to a usable page, interleaved (hello world, app,
    hello world, ...), one server at a time; in each page of the app, its first question
    ``args.ask_after`` seconds later. The last app server is returned running."""
    hello = tmp / "hello_app.py"
    hello.write_text(HELLO_APP)
    scripts = {HELLO: hello, APP: args.app_dir / "app.py"}
    server: AppServer | None = None
    try:
        for index in range(args.cold):
            if index and time.monotonic() > deadline:
                run.problems.append(f"time limit: {index} of {args.cold} cold starts")
                break
            for app, script in scripts.items():
                if server is not None:
                    server.stop()
                server = AppServer.launch(tmp / f"run{index}-{app.split()[0]}", fake, script)
                sample, page, offset = cold_start(browser, server, run.offhost)
                run.colds[app].append(sample)
                if app == APP:
                    page.wait_for_timeout(args.ask_after * 1000)
                    label, timeout = f"c{index + 1}", turn_timeout(args)
                    first = run_turn(page, 0, bedrock, offset, label, timeout)
                    if isinstance(first, str):
                        run.problems.append(first)
                    else:
                        run.first_answers.append(first)
                page.context.close()
    except BaseException:
        if server is not None:
            server.stop()
        raise
    assert server is not None
    return server


def turn_timeout(args: argparse.Namespace) -> float:
    return 30 + args.ttft + args.tokens * args.token_delay


def ask_turns(
    browser: Browser,
    server: AppServer,
    bedrock: TimedBedrock,
    args: argparse.Namespace,
    deadline: float,
    run: Run,
) -> None:
    """The warm-up and timed turns in one page, up to the first that fails or the deadline."""
    page = open_page(browser, server.url, "bench-turns", run.offhost)
    wait_input_ready(page)
    offset, uncertainty = clock_offset(page)
    run.offset_note = f"page clock - python clock {offset:+.2f} ms (±{uncertainty:.2f})"
    for index in range(args.warmup + args.turns):
        if time.monotonic() > deadline:
            run.problems.append(f"time limit: stopped after {index} turns")
            break
        label = f"w{index + 1}" if index < args.warmup else str(index - args.warmup + 1)
        result = run_turn(page, index, bedrock, offset, label, turn_timeout(args))
        if isinstance(result, str):
            run.problems.append(result)
            break
        run.samples.append(result)


def _cold_cells(samples: list[ColdStart]) -> str:
    """healthy, loaded, input ok: the one sample's, or the medians of several; blanks for none."""
    if not samples:
        return " " * 30
    return (
        "".join(
            f"{statistics.median(getattr(c, name) for c in samples):>9.2f}"
            for name in ("healthy", "loaded", "interactive")
        )
        + " " * 3
    )


def print_cold_starts(colds: dict[str, list[ColdStart]], app_dir: Path) -> None:
    print()
    print(f"cold start (s), launch -> ...; app: {app_dir / 'app.py'}")
    print(f"{'':<10}" + "".join(f"{app:>27}   " for app in colds))
    print(f"{'':<10}" + f"{'healthy':>9}{'loaded':>9}{'input ok':>9}   " * len(colds))
    for index in range(max(map(len, colds.values()), default=0)):
        cells = "".join(_cold_cells(samples[index : index + 1]) for samples in colds.values())
        print(f"{'run ' + str(index + 1):<10}{cells}")
    print(f"{'median':<10}" + "".join(_cold_cells(samples) for samples in colds.values()))


def print_turns(samples: list[TurnSample], offset_note: str) -> None:
    print()
    print(
        f"{'turn':<6}{'E->req':>9}{'E->1st':>9}{'E->last':>9}{'E->saved':>9}"
        f"{'m.ttft':>8}{'1st lag':>9}{'last lag':>9}   (ms; E = Enter pressed)"
    )
    for sample in samples:
        print(_turn_row(sample))
    if offset_note:
        print(offset_note)


def print_turn_stats(timed: list[TurnSample], what: str = "timed turns") -> None:
    print()
    print(f"{f'(ms, {what}: {len(timed)})':<34}{'median':>9}{'p90':>9}")
    for label, values in (
        ("Enter -> first text", [s.enter_to_first for s in timed]),
        ("Enter -> last text", [s.enter_to_last for s in timed]),
        ("model first token -> first text", [s.first_lag for s in timed]),
        ("model last token -> last text", [s.last_lag for s in timed]),
        ("Enter -> model request", [s.enter_to_request for s in timed]),
        ("Enter -> stored dialog redrawn", [s.enter_to_done for s in timed]),
        ("first text: DOM -> next frame", [s.frame_gap for s in timed]),
    ):
        print(f"{label:<34}{median_p90(values, 9, 1)}")


def print_first_answers(samples: list[TurnSample], ask_after: float) -> None:
    print()
    print(f"the first question after each cold start, {ask_after:g} s after the input was usable")
    print_turns(samples, "")
    print_turn_stats(samples, "first answers")


def print_cold_goals(run: Run) -> None:
    """The cold start's goals; the first answer after one, to compare with another checkout's
    (``--app-dir``): issue 9 asks that it be no slower than before."""
    if not run.colds[APP]:
        return
    cold = statistics.median(c.interactive for c in run.colds[APP])
    measured = f"cold start to a usable chat input {cold:.2f} s"
    print(goal_line(measured, f"<= {COLD_GOAL_S:g} s", cold <= COLD_GOAL_S))
    if run.colds[HELLO]:
        hello = statistics.median(c.interactive for c in run.colds[HELLO])
        ratio = cold / hello
        measured = f"cold start app / hello world {cold:.2f} / {hello:.2f} s = {ratio:.2f}x"
        print(goal_line(measured, f"<= {COLD_RATIO_GOAL:g}x", ratio <= COLD_RATIO_GOAL))
    if firsts := run.first_answers:
        print(
            "first answer after a cold start: Enter -> first text "
            f"{statistics.median(s.enter_to_first for s in firsts):.0f} ms, -> last text "
            f"{statistics.median(s.enter_to_last for s in firsts):.0f} ms (medians; the model "
            f"alone {statistics.median(s.model_ttft for s in firsts):.0f} ms to its first token)"
        )


def print_goals(run: Run) -> None:
    print()
    print_cold_goals(run)
    timed = run.timed
    if not timed:
        return
    for what, values in (
        ("first", [s.first_lag for s in timed]),
        ("last", [s.last_lag for s in timed]),
    ):
        lag = statistics.median(values)
        measured = f"pipeline + browser add {lag:.1f} ms to the {what} token"
        print(goal_line(measured, f"<= {LAG_GOAL_MS:g} ms", lag <= LAG_GOAL_MS))
    if not all(s.measured for s in timed):
        print("note: the model's token times were estimated from ttft and token delay")
    late = sum(s.last_by_redraw for s in timed)
    print(
        f"last token first shown by the stored dialog's redraw, not by the stream: "
        f"{late}/{len(timed)} timed turns"
    )
    same = sum(s.text_ok for s in run.samples)
    print(f"redrawn answer identical to the model's text: {same}/{len(run.samples)} turns")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(versions_line())
    print(
        f"{ModelTiming.from_args(args).describe()}; "
        f"{args.cold} cold starts of each app, {args.warmup} + {args.turns} turns"
    )
    run = Run()
    bedrock = TimedBedrock(args.ttft, args.token_delay, args.tokens)
    with errors_noted(run.problems), FakeBedrock(bedrock.responder) as fake:
        measure(args, bedrock, fake, run)
    print_cold_starts(run.colds, args.app_dir)
    print_first_answers(run.first_answers, args.ask_after)
    print_turns(run.samples, run.offset_note)
    print_turn_stats(run.timed)
    print_goals(run)
    print_offhost(run.offhost)
    print_warnings(run.server_log, run.problems)
    return 0


if __name__ == "__main__":
    sys.exit(main())
