"""What a person sees: cold start and streamed answers in Chromium, next to the model's timeline.

``streamlit run app.py`` talks to the loopback Bedrock (``loopback/bedrock.py``), which answers
every request with ``--tokens`` text deltas, ``--ttft`` seconds before the first and
``--token-delay`` seconds between the others. Headless Chromium (Debian's, flags as in
``tests/test_browser.py``) measures:

- cold start, ``--cold`` times: from launching ``streamlit run`` (a new server process each
  time, fresh SQLite files, a new browser context so nothing is cached) to the chat input
  visible and enabled in the page. The browser itself is already running.
- per turn, ``--turns`` questions in one page (after ``--warmup`` untimed ones): Enter pressed
  -> first answer text in the assistant message, Enter -> last token in it, and Enter -> the
  stored dialog redrawn (feedback buttons). Against the model's own timeline: the fake's
  replies stamp the wall-clock time each token was written to the socket (``Reply.token_list``
  is overridden to hand out a list that records each hand-out), so "model first token -> first
  text visible" is what the pipeline (botocore, LangChain, Streamlit, websocket, React) adds.

In the page a ``MutationObserver`` (installed before any page script) stamps each change with
``performance.now()``; ``performance.timeOrigin`` turns that into wall-clock time, checked
against this process's clock. A change is stamped when it is in the DOM; the frame that paints
it follows (the "DOM -> next frame" line says how soon).

    python -m bench.browser [--cold 3] [--turns 10] [--warmup 1] [--ttft 0.3]
                            [--token-delay 0.01] [--tokens 200] [--time-limit 170]

``bench/load.py`` reuses the server and page helpers of this module. A benchmark, not a test:
it always exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from playwright.sync_api import Browser, Page, sync_playwright  # noqa: E402

from bench import common  # noqa: E402
from bench.common import p90  # noqa: E402
from loopback.app import STARTUP_TIMEOUT_S, AppServer, launch_browser  # noqa: E402
from loopback.bedrock import FakeBedrock, RecordedRequest, Reply, last_user_text  # noqa: E402

LAG_GOAL_MS = 100.0  # the classic limit of "instantaneous" (Nielsen): the pipeline's share
COLD_GOAL_S = 10.0  # the classic limit of keeping attention (Nielsen): launch to a usable page

# Installed in every page before its own scripts (``add_init_script``). It stamps, with
# performance.now(): Enter pressed in the chat input, the first time that input is visible
# and enabled, and, once armed for the assistant message at ``index``, when its answer
# first contains ``first``, first contains ``last``, and when the stored dialog is redrawn
# (feedback buttons). The result promise resolves a frame after that, or at the timeout.
PAGE_JS = r"""
(() => {
  if (window.__bench) return;
  const bench = (window.__bench = { enter: null, inputReady: null, result: null });
  const INPUT = '[data-testid="stChatInputTextArea"]';
  document.addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.key === "Enter" && !event.shiftKey && target?.matches?.(INPUT)) {
      bench.enter = performance.now();
    }
  }, true);

  const inputReady = () => {
    const input = document.querySelector(INPUT);
    if (!input || input.disabled) return false;
    const box = input.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && getComputedStyle(input).visibility !== "hidden";
  };
  const readyObserver = new MutationObserver(() => {
    if (bench.inputReady === null && inputReady()) {
      bench.inputReady = performance.now();
      readyObserver.disconnect();
    }
  });
  readyObserver.observe(document, { childList: true, subtree: true, attributes: true });

  const assistantAt = (index) => {
    let seen = 0;
    for (const message of document.querySelectorAll('[data-testid="stChatMessage"]')) {
      if (message.querySelector('[data-testid="stChatMessageAvatarAssistant"]')) {
        if (seen === index) return message;
        seen += 1;
      }
    }
    return null;
  };

  bench.arm = (index, first, last, timeoutMs) => {
    bench.enter = null;
    const marks = {
      enter: null, first: null, last: null, done: null,
      firstFrame: null, lastFrame: null, text: null, timedOut: false,
    };
    bench.result = new Promise((resolve) => {
      let finished = false;
      let timer = null;
      const finish = () => {
        if (finished) return;
        finished = true;
        observer.disconnect();
        clearTimeout(timer);
        marks.enter = bench.enter;
        resolve(marks);
      };
      const check = () => {
        if (finished) return;
        const now = performance.now();
        const message = assistantAt(index);
        if (!message) return;
        const answer = message.querySelector('[data-testid="stMarkdownContainer"]');
        const text = answer ? answer.textContent : "";
        if (marks.first === null && text.includes(first)) {
          marks.first = now;
          requestAnimationFrame(() => { marks.firstFrame = performance.now(); });
        }
        if (marks.last === null && text.includes(last)) {
          marks.last = now;
          requestAnimationFrame(() => { marks.lastFrame = performance.now(); });
        }
        if (marks.done === null && message.querySelector('[data-testid="stFeedback"]')) {
          marks.done = now;
          marks.text = text;
          requestAnimationFrame(() => requestAnimationFrame(finish));
        }
      };
      const observer = new MutationObserver(check);
      observer.observe(document.body, { childList: true, subtree: true, characterData: true });
      timer = setTimeout(() => { marks.timedOut = true; marks.text = null; finish(); }, timeoutMs);
    });
  };
})();
"""
# Wall-clock (epoch ms) in the page, to compare with this process's time.time().
PAGE_NOW_JS = "() => performance.timeOrigin + performance.now()"


# --- pages --------------------------------------------------------------------------------------


def is_loopback(url: str) -> bool:
    return url.startswith(("http://127.0.0.1:", "ws://127.0.0.1:", "data:", "blob:", "about:"))


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


def versions_line() -> str:
    return common.versions_line("streamlit", "playwright", "boto3", "langchain-aws")


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


def korean_tokens(n: int, turn: int) -> list[str]:
    """``n`` word-sized deltas like bench/stream.py's, tagged with the turn: t3서울0 t3한강1 ..."""
    words = ("서울", "한강", "공원", "박물관", "시장", "카페", "산책", "야경")
    return [f"t{turn}{words[i % len(words)]}{i} " for i in range(n)]


@dataclass
class TimedBedrock:
    """A FakeBedrock whose every stream records its arrival and each token's departure."""

    ttft: float
    token_delay: float
    tokens: int
    calls: list[ModelCall] = field(default_factory=list)

    def responder(self, request: RecordedRequest) -> Reply:
        arrived = time.time()
        sent = SentTimes(korean_tokens(self.tokens, len(self.calls)))
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
    context = browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    context.add_init_script(PAGE_JS)
    context.on("request", lambda r: None if is_loopback(r.url) else offhost.append(r.url))
    page = context.new_page()
    page.goto(f"{url}/?user={user}", wait_until="commit", timeout=STARTUP_TIMEOUT_S * 1000)
    return page


def wait_input_ready(page: Page, timeout_s: float = STARTUP_TIMEOUT_S) -> float:
    """performance.now() when the chat input was first visible and enabled."""
    page.wait_for_function(
        "() => window.__bench && window.__bench.inputReady !== null",
        polling=50,
        timeout=timeout_s * 1000,
    )
    return float(page.evaluate("() => window.__bench.inputReady"))


def cold_start(
    browser: Browser, tmp: Path, fake: FakeBedrock, offhost: list[str]
) -> tuple[ColdStart, AppServer]:
    """One launch of the server to a usable page; returns the sample and the running server."""
    server = AppServer.launch(tmp, fake)
    try:
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
        page.context.close()
    except BaseException:
        server.stop()
        raise
    sample = ColdStart(
        healthy - server.launched, loaded - server.launched, interactive - server.launched
    )
    return sample, server


def run_turn(
    page: Page, index: int, bedrock: TimedBedrock, offset: float, label: str, timeout_s: float
) -> TurnSample | str:
    """Ask one question in ``page``; the sample, or what went wrong."""
    tokens = korean_tokens(bedrock.tokens, len(bedrock.calls))
    first, last = tokens[0].strip(), tokens[-1].strip()
    calls_before = len(bedrock.calls)
    chat_input = page.get_by_test_id("stChatInputTextArea")
    chat_input.fill(f"브라우저 벤치 질문 {index + 1}: 서울에서 주말에 가볼 만한 곳은?")
    page.evaluate(
        "([i, f, l, t]) => window.__bench.arm(i, f, l, t)",
        [index, first, last, int(timeout_s * 1000)],
    )
    chat_input.press("Enter")
    marks = page.evaluate("() => window.__bench.result")
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


def _stat_row(label: str, values: list[float]) -> str:
    if not values:
        return f"{label:<34}{'-':>9}{'-':>9}"
    return f"{label:<34}{statistics.median(values):>9.1f}{p90(values):>9.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold", type=int, default=3, help="server restarts for cold start")
    parser.add_argument("--turns", type=int, default=10, help="timed turns in one page")
    parser.add_argument("--warmup", type=int, default=1, help="untimed turns before them")
    parser.add_argument("--ttft", type=float, default=0.3, help="seconds to the first token")
    parser.add_argument("--token-delay", type=float, default=0.01, help="seconds between tokens")
    parser.add_argument("--tokens", type=int, default=200, help="text deltas per answer")
    parser.add_argument(
        "--time-limit", type=float, default=170, help="seconds; no new run or turn after it"
    )
    args = parser.parse_args(argv)
    cold_runs, turns, warmup = max(1, args.cold), max(1, args.turns), max(0, args.warmup)
    tokens = max(2, args.tokens)
    deadline = time.monotonic() + args.time_limit
    turn_timeout = 30 + args.ttft + tokens * args.token_delay

    print(versions_line())
    print(
        f"loopback Bedrock: ttft {args.ttft * 1000:.0f} ms, {tokens} tokens "
        f"{args.token_delay * 1000:.0f} ms apart (model stream ~"
        f"{(args.ttft + (tokens - 1) * args.token_delay) * 1000:.0f} ms); "
        f"{cold_runs} cold starts, {warmup} + {turns} turns"
    )

    bedrock = TimedBedrock(args.ttft, args.token_delay, tokens)
    fake = FakeBedrock(bedrock.responder).start()
    colds: list[ColdStart] = []
    samples: list[TurnSample] = []
    problems: list[str] = []
    offhost: list[str] = []
    server: AppServer | None = None
    offset_note = ""
    server_problems: list[str] = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="bench-browser-") as tmp,
            sync_playwright() as playwright,
        ):
            browser = launch_browser(playwright)
            print(f"chromium {browser.version} (headless)")
            try:
                for run in range(cold_runs):
                    if server is not None:
                        server.stop()
                        server = None
                    if run and time.monotonic() > deadline:
                        problems.append(f"time limit: {run} of {cold_runs} cold starts")
                        break
                    sample, server = cold_start(browser, Path(tmp) / f"run{run}", fake, offhost)
                    colds.append(sample)

                assert server is not None
                page = open_page(browser, server.url, "bench-turns", offhost)
                wait_input_ready(page)
                offset, uncertainty = clock_offset(page)
                offset_note = f"page clock - python clock {offset:+.2f} ms (±{uncertainty:.2f})"
                for index in range(warmup + turns):
                    if time.monotonic() > deadline:
                        problems.append(f"time limit: stopped after {index} turns")
                        break
                    label = f"w{index + 1}" if index < warmup else str(index - warmup + 1)
                    result = run_turn(page, index, bedrock, offset, label, turn_timeout)
                    if isinstance(result, str):
                        problems.append(result)
                        break
                    samples.append(result)
            finally:
                browser.close()
                if server is not None:
                    server.stop()
                    server_problems = server.problems()
    except Exception as error:
        problems.append(f"ERROR {type(error).__name__}: {error}")
        traceback.print_exc(file=sys.stdout)
    finally:
        fake.stop()

    print()
    print(f"{'cold start (s)':<16}{'healthy':>9}{'loaded':>9}{'input ok':>9}")
    for run, sample in enumerate(colds, 1):
        print(
            f"{'run ' + str(run):<16}{sample.healthy:>9.2f}{sample.loaded:>9.2f}"
            f"{sample.interactive:>9.2f}"
        )
    if colds:
        print(
            f"{'median':<16}{statistics.median(c.healthy for c in colds):>9.2f}"
            f"{statistics.median(c.loaded for c in colds):>9.2f}"
            f"{statistics.median(c.interactive for c in colds):>9.2f}"
        )

    timed = [s for s in samples if not s.label.startswith("w")]
    print()
    print(
        f"{'turn':<6}{'E->req':>9}{'E->1st':>9}{'E->last':>9}{'E->saved':>9}"
        f"{'m.ttft':>8}{'1st lag':>9}{'last lag':>9}   (ms; E = Enter pressed)"
    )
    for sample in samples:
        print(_turn_row(sample))
    if offset_note:
        print(offset_note)

    print()
    print(f"{'(ms, timed turns: ' + str(len(timed)) + ')':<34}{'median':>9}{'p90':>9}")
    print(_stat_row("Enter -> first text", [s.enter_to_first for s in timed]))
    print(_stat_row("Enter -> last text", [s.enter_to_last for s in timed]))
    print(_stat_row("model first token -> first text", [s.first_lag for s in timed]))
    print(_stat_row("model last token -> last text", [s.last_lag for s in timed]))
    print(_stat_row("Enter -> model request", [s.enter_to_request for s in timed]))
    print(_stat_row("Enter -> stored dialog redrawn", [s.enter_to_done for s in timed]))
    print(_stat_row("first text: DOM -> next frame", [s.frame_gap for s in timed]))

    print()
    if colds:
        cold = statistics.median(c.interactive for c in colds)
        print(
            f"cold start to a usable chat input {cold:.2f} s (goal <= {COLD_GOAL_S:g} s): "
            f"{'PASS' if cold <= COLD_GOAL_S else 'MISS'}"
        )
    if timed:
        for what, values in (
            ("first", [s.first_lag for s in timed]),
            ("last", [s.last_lag for s in timed]),
        ):
            lag = statistics.median(values)
            print(
                f"pipeline + browser add {lag:.1f} ms to the {what} token "
                f"(goal <= {LAG_GOAL_MS:g} ms): {'PASS' if lag <= LAG_GOAL_MS else 'MISS'}"
            )
        if not all(s.measured for s in timed):
            print("note: the model's token times were estimated from ttft and token delay")
        late = sum(s.last_by_redraw for s in timed)
        print(
            f"last token first shown by the stored dialog's redraw, not by the stream: "
            f"{late}/{len(timed)} timed turns"
        )
        same = sum(s.text_ok for s in samples)
        print(f"redrawn answer identical to the model's text: {same}/{len(samples)} turns")
    print(f"requests off 127.0.0.1 from the browser: {len(offhost)}")
    for url in offhost[:5]:
        print(f"  {url}")
    for line in server_problems[:10]:
        print(f"server log: {line}")
    for problem in problems:
        print(f"WARNING: {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
