"""What streaming an answer costs on the wire and in latency: the chat page vs a plain
``st.write_stream`` app, in Chromium, against the loopback model's own timeline (issue 9).

Both apps run with ``streamlit run`` (``harness/app_server.py``) against one loopback Bedrock
(``loopback/bedrock.py``), which answers with ``--tokens`` Korean and English prose words,
``--ttft`` seconds before the first and ``--token-delay`` seconds between the others, in two
shapes of the same words:

- ``paragraphs``: a blank line (a paragraph break) after every 30th word;
- ``one paragraph``: a single paragraph.

The baseline is a plain 25-line app written into a temporary folder: ``st.chat_input``, then
``st.write_stream`` of the text of boto3's ``converse_stream``. Ours runs in general
conversation, for a new local-mode user each turn (nothing replayed); every turn is a new
browser context, after one untimed short turn per app.

Per turn, from Enter until the script run has finished and the socket has been quiet for
0.5 s:

- WebSocket bytes: the payloads of the frames the page receives on Streamlit's socket
  (Playwright's ``framereceived``: decoded, so compression would not change them), how many
  frames, and their ratio to the answer's UTF-8 size. Each frame is decoded as Streamlit's
  ``ForwardMsg`` to tell what it carries.
- latency against the model's timeline (``bench/browser.py``'s clock offset and sent times,
  ``bench/page_marks.py``'s in-page marks): the model's first token -> first text in the DOM,
  its last token -> last text, and the largest lag of any token's text behind its send time
  (the answer's length in non-blank characters is stamped on every change).
- whether the answer finally shown is the model's text, whitespace aside.

    python -m bench.wire [--repeats 3] [--tokens 3000] [--ttft 0.3] [--token-delay 0.005]
                         [--time-limit 360]

A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from playwright.sync_api import Browser, Page, WebSocket, sync_playwright
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

from bench.browser import SentTimes, TimedReply, clock_offset, open_page, wait_input_ready
from bench.common import (
    ModelTiming,
    add_model_args,
    errors_noted,
    goal_line,
    scratch,
    total_run_line,
)
from bench.page_marks import (
    ARM_JS,
    MARKS_JS,
    print_offhost,
    print_warnings,
    versions_line,
)
from harness.app_server import STARTUP_TIMEOUT_S, AppServer
from harness.chromium import launch_browser
from loopback.bedrock import FakeBedrock, RecordedRequest, Reply

# Goals of issue 9: bytes received per byte of answer, and ms behind the model.
RATIO_GOALS = {"paragraphs": 4.0, "one paragraph": 50.0}
FIRST_GOAL_MS = 50.0
LAST_GOAL_MS = 60.0
LAG_GOAL_MS = 250.0

PARAGRAPH_WORDS = 30
WARMUP_WORDS = 60
QUIET_S = 0.5  # no frame for this long after the run finished: the page is idle
OURS, PLAIN = "our app", "plain app"
QUESTION = "서울에서 하루를 보낼 계획을 자세히 알려 주세요."
# Prose the way answers come, Korean first with English in it; nothing in it is Markdown
# syntax, so the page shows exactly these words.
PROSE = (
    "서울에서의 하루는 경복궁과 북촌한옥마을에서 시작하는 것을 추천드립니다. "
    "아침 일찍 도착하시면 수문장 교대식을 보실 수 있고, 관람객이 적어 사진 찍기에도 좋습니다. "
    "Gyeongbokgung Palace opens at nine, and the changing of the guard follows soon after. "
    "점심에는 광장시장으로 이동하셔서 빈대떡과 육회, 칼국수를 맛보시기 바랍니다. "
    "지하철과 버스는 교통카드 하나로 환승하실 수 있어서 이동하시기가 편리합니다. "
    "오후에는 국립중앙박물관이나 리움미술관처럼 조용한 전시 공간을 둘러보시면 여유롭습니다. "
    "In the evening, take the cable car up Namsan for a view of the whole city. "
    "저녁에는 한강공원에서 자전거를 빌리시거나 유람선을 타시면서 "
    "야경을 즐기시는 것도 좋은 선택입니다."
)
# The answer's last word, found nowhere before it: the page marks the last text by it.
LAST_WORD = "감사합니다."

# The baseline: what a plain Streamlit app streaming Bedrock's answer looks like.
PLAIN_APP = '''\
"""A plain Streamlit chat streaming Bedrock's ConverseStream: bench/wire.py's baseline."""

import boto3
import streamlit as st

MODEL_ID = "anthropic.claude-sonnet-4-5-20250929-v1:0"


@st.cache_resource
def client():
    return boto3.client("bedrock-runtime")


def answer(question):
    messages = [{"role": "user", "content": [{"text": question}]}]
    response = client().converse_stream(modelId=MODEL_ID, messages=messages)
    for event in response["stream"]:
        if "contentBlockDelta" in event:
            yield event["contentBlockDelta"]["delta"]["text"]


if question := st.chat_input("Ask something"):
    with st.chat_message("user"):
        st.markdown(question)
    with st.chat_message("assistant"):
        st.write_stream(answer(question))
'''


# --- the answers --------------------------------------------------------------------------------


def prose_tokens(count: int, paragraph_words: int | None) -> tuple[str, ...]:
    """``count`` words of PROSE, cycled, each with the space after it, or a blank line after
    every ``paragraph_words``-th; the last word is LAST_WORD."""
    words = PROSE.split()
    tokens = []
    for i in range(count - 1):
        breaks = paragraph_words is not None and (i + 1) % paragraph_words == 0
        tokens.append(words[i % len(words)] + ("\n\n" if breaks else " "))
    return (*tokens, LAST_WORD)


@dataclass(frozen=True)
class Shape:
    name: str
    tokens: tuple[str, ...]

    @property
    def text(self) -> str:
        return "".join(self.tokens)

    @property
    def utf8(self) -> int:
        return len(self.text.encode())

    def describe(self) -> str:
        paragraphs = self.text.count("\n\n") + 1
        return (
            f"answer '{self.name}': {len(self.tokens):,} tokens, {paragraphs} paragraphs, "
            f"{len(self.text):,} characters, {self.utf8:,} bytes UTF-8"
        )


@dataclass
class Model:
    """The loopback model's side: answers every request with ``tokens``, and records when
    each token left (``bench/browser.py``'s ``SentTimes``, one per call)."""

    ttft: float
    token_delay: float
    tokens: tuple[str, ...] = ()
    calls: list[SentTimes] = field(default_factory=list)

    def responder(self, request: RecordedRequest) -> Reply:
        sent = SentTimes(list(self.tokens))
        self.calls.append(sent)
        return TimedReply(ttft=self.ttft, token_delay=self.token_delay, sent_times=sent)


# --- the wire -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Frame:
    at: float  # time.monotonic() when Playwright handed it over
    size: int  # payload bytes
    kind: str  # the ForwardMsg's type; for a new element, the element's
    text: int  # UTF-8 bytes of the Markdown text it carries


def describe_frame(data: bytes) -> tuple[str, int]:
    """What one of Streamlit's frames is (``ForwardMsg``), and its Markdown text's bytes."""
    message = ForwardMsg.FromString(data)
    kind = message.WhichOneof("type") or "?"
    if kind == "delta":
        kind = message.delta.WhichOneof("type") or "?"
    if kind != "new_element":
        return kind, 0
    element = message.delta.new_element
    kind = element.WhichOneof("type") or "?"
    return kind, len(element.markdown.body.encode()) if kind == "markdown" else 0


class Wire:
    """The frames a page receives on Streamlit's WebSocket, as they come."""

    def __init__(self, page: Page) -> None:
        self.frames: list[Frame] = []
        self.sockets = 0
        page.on("websocket", self._socket)

    def _socket(self, socket: WebSocket) -> None:
        if urlsplit(socket.url).path.endswith("/_stcore/stream"):
            self.sockets += 1
            socket.on("framereceived", self._frame)

    def _frame(self, payload: str | bytes) -> None:
        data = payload.encode() if isinstance(payload, str) else payload
        kind, text = describe_frame(data)
        self.frames.append(Frame(time.monotonic(), len(data), kind, text))

    def idle_since(self, start: int) -> bool:
        """A script run finished after frame ``start``, and nothing came for QUIET_S since."""
        finished = any(f.kind == "script_finished" for f in self.frames[start:])
        return finished and time.monotonic() - self.frames[-1].at >= QUIET_S


def wait_idle(page: Page, wire: Wire, start: int, timeout_s: float) -> bool:
    """Let Playwright hand over events until ``wire`` is idle since frame ``start``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        page.wait_for_timeout(50)
        if wire.idle_since(start):
            return True
    return False


# --- one turn -----------------------------------------------------------------------------------


@dataclass
class Sample:
    app: str
    shape: Shape
    frames: list[Frame]  # from Enter to idle
    enter_to_idle: float  # ms
    first_lag: float | None  # ms, model's first token sent -> first text in the DOM
    last_lag: float | None
    max_lag: float | None  # the largest of every token's lag; None if one never showed
    text_ok: bool  # the answer shown is the model's text, whitespace aside

    @property
    def received(self) -> int:
        return sum(f.size for f in self.frames)

    @property
    def ratio(self) -> float:
        return self.received / self.shape.utf8


def token_lags(
    tokens: Sequence[str],
    sent: Sequence[float],
    lengths: Sequence[Sequence[float]],
    wall: Callable[[float], float],
) -> list[float]:
    """Per token, ms from its send (epoch s) to the first stamp of ``lengths`` (page ms, shown
    non-blank characters) with all the text up to it; shorter if some text never showed."""
    lags: list[float] = []
    needed, shown = 0, 0
    for token, at in zip(tokens, sent, strict=True):
        needed += len("".join(token.split()))
        while shown < len(lengths) and lengths[shown][1] < needed:
            shown += 1
        if shown == len(lengths):
            break
        lags.append(wall(lengths[shown][0]) - at * 1000)
    return lags


def shown_answer(page: Page) -> str:
    """The text of the assistant message's Markdown (captions are not Markdown blocks, and
    the labels of the buttons under the answer are left out)."""
    assistant = page.get_by_test_id("stChatMessage").filter(
        has=page.get_by_test_id("stChatMessageAvatarAssistant")
    )
    texts = assistant.get_by_test_id("stMarkdownContainer").evaluate_all(
        "(blocks) => blocks.filter((b) => !b.closest('button')).map((b) => b.innerText)"
    )
    return "\n".join(texts)


def run_turn(
    browser: Browser,
    server: AppServer,
    app: str,
    shape: Shape,
    model: Model,
    user: str,
    timeout_s: float,
    offhost: list[str],
) -> Sample | str:
    """One question in a new page, answered with ``shape``: the sample, or what went wrong."""
    model.tokens = shape.tokens
    page = open_page(browser, server.url, user, offhost)
    # open_page returns at the navigation's commit, before the page's scripts open the socket.
    wire = Wire(page)
    try:
        wait_input_ready(page)
        if not wait_idle(page, wire, 0, STARTUP_TIMEOUT_S):
            return f"{app}: the page never went idle ({wire.sockets} sockets seen)"
        offset, _ = clock_offset(page)
        start, calls = len(wire.frames), len(model.calls)
        chat_input = page.get_by_test_id("stChatInputTextArea")
        chat_input.fill(QUESTION)
        page.evaluate(ARM_JS, [0, shape.tokens[0].strip(), LAST_WORD, int(timeout_s * 1000)])
        entered = time.monotonic()
        chat_input.press("Enter")
        if not wait_idle(page, wire, start, timeout_s):
            return f"{app} {shape.name}: not idle within {timeout_s:g} s"
        enter_to_idle = (wire.frames[-1].at - entered) * 1000
        marks = page.evaluate(MARKS_JS)
        origin = float(page.evaluate("() => performance.timeOrigin"))
        shown = shown_answer(page)
    finally:
        page.context.close()
    if len(model.calls) != calls + 1:
        return f"{app} {shape.name}: {len(model.calls) - calls} model calls for one question"
    sent = model.calls[-1].sent  # its tokens are shape's: iterating them would stamp again
    if len(sent) != len(shape.tokens):
        return f"{app} {shape.name}: the model sent {len(sent)} of {len(shape.tokens)} tokens"

    def wall(mark: float) -> float:  # page performance.now() -> this process's epoch ms
        return origin + mark - offset

    def lag(mark: float | None, sent: float) -> float | None:
        return None if mark is None else wall(mark) - sent * 1000

    lags = token_lags(shape.tokens, sent, marks["lengths"], wall)
    return Sample(
        app=app,
        shape=shape,
        frames=wire.frames[start:],
        enter_to_idle=enter_to_idle,
        first_lag=lag(marks["first"], sent[0]),
        last_lag=lag(marks["last"], sent[-1]),
        max_lag=max(lags) if len(lags) == len(sent) else None,
        text_ok=" ".join(shown.split()) == " ".join(shape.text.split()),
    )


# --- the run ------------------------------------------------------------------------------------


@dataclass
class Run:
    """What a run gathered, printed at the end whatever went wrong."""

    samples: list[Sample] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    offhost: list[str] = field(default_factory=list)  # the browser's requests off loopback
    server_log: list[str] = field(default_factory=list)

    def cell(self, app: str, shape: Shape) -> list[Sample]:
        return [s for s in self.samples if s.app == app and s.shape == shape]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="turns per app and answer")
    add_model_args(parser, tokens=3000, tokens_help="words per answer")
    parser.set_defaults(token_delay=0.005)  # the figure: 3,000 tokens 5 ms apart
    parser.add_argument(
        "--time-limit", type=float, default=360, help="seconds; no new turn after it"
    )
    args = parser.parse_args(argv)
    args.repeats, args.tokens = max(1, args.repeats), max(2, args.tokens)
    return args


def measure(
    args: argparse.Namespace, shapes: list[Shape], model: Model, fake: FakeBedrock, run: Run
) -> None:
    """Both servers, a warm-up turn each, then the turns interleaved: repeat, shape, app."""
    deadline = time.monotonic() + args.time_limit
    timeout_s = 60 + args.ttft + 4 * args.tokens * args.token_delay
    with scratch("wire") as tmp, sync_playwright() as playwright:
        plain = tmp / "plain_app.py"
        plain.write_text(PLAIN_APP)
        servers: dict[str, AppServer] = {}
        browser = launch_browser(playwright)
        print(f"chromium {browser.version} (headless)")
        try:
            servers[OURS] = AppServer.launch(tmp / "ours", fake)
            servers[PLAIN] = AppServer.launch(tmp / "plain", fake, plain)
            warmup = Shape("warm-up", prose_tokens(WARMUP_WORDS, PARAGRAPH_WORDS))
            for app, server in servers.items():
                server.wait_healthy()
                result = run_turn(
                    browser, server, app, warmup, model, "wire-warmup", 60, run.offhost
                )
                if isinstance(result, str):
                    run.problems.append(f"warm-up: {result}")
            turn = 0
            for repeat in range(args.repeats):
                for shape in shapes:
                    for app, server in servers.items():
                        if time.monotonic() > deadline:
                            run.problems.append(f"time limit: {turn} turns, in repeat {repeat + 1}")
                            return
                        turn += 1
                        user = f"wire-user-{turn}"
                        result = run_turn(
                            browser, server, app, shape, model, user, timeout_s, run.offhost
                        )
                        if isinstance(result, str):
                            run.problems.append(result)
                        else:
                            run.samples.append(result)
        finally:
            browser.close()
            for server in servers.values():
                server.stop()
                run.server_log += server.problems()


# --- what is printed ----------------------------------------------------------------------------


def size(n: float) -> str:
    return f"{n / 1e6:.2f} MB" if n >= 1e6 else f"{n / 1e3:.1f} KB" if n >= 1e3 else f"{n:.0f} B"


def median_of(values: Sequence[float | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def times(ratio: float) -> str:
    """A ratio to the answer's size; with a decimal near the goals, so 50.4x is not 50x."""
    return f"{ratio:,.0f}x" if ratio >= 100 else f"{ratio:.1f}x"


def print_turns(run: Run) -> None:
    print()
    print(
        f"{'app':<10}{'answer':<15}{'WS bytes':>11}{'x answer':>10}{'frames':>8}"
        f"{'1st lag':>9}{'last lag':>9}{'max lag':>9}{'E->idle':>9}   (each turn, ms)"
    )
    for s in run.samples:
        print(
            f"{s.app:<10}{s.shape.name:<15}{size(s.received):>11}{times(s.ratio):>10}"
            f"{len(s.frames):>8,}{ms(s.first_lag):>9}{ms(s.last_lag):>9}{ms(s.max_lag):>9}"
            f"{ms(s.enter_to_idle):>9}{'' if s.text_ok else '  TEXT MISMATCH'}"
        )


def print_table(run: Run, shapes: list[Shape]) -> None:
    print()
    print(
        f"{'app':<10}{'answer':<15}{'turns':>6}{'WS bytes':>11}{'x answer':>10}{'frames':>8}"
        f"{'1st lag':>9}{'last lag':>9}{'max lag':>9}{'E->idle':>9}{'text ok':>9}"
    )
    for shape in shapes:
        for app in (OURS, PLAIN):
            cell = run.cell(app, shape)
            if not cell:
                continue
            print(
                f"{app:<10}{shape.name:<15}{len(cell):>6}"
                f"{size(statistics.median(s.received for s in cell)):>11}"
                f"{times(statistics.median(s.ratio for s in cell)):>10}"
                f"{statistics.median(len(s.frames) for s in cell):>8,.0f}"
                f"{ms(median_of([s.first_lag for s in cell])):>9}"
                f"{ms(median_of([s.last_lag for s in cell])):>9}"
                f"{ms(median_of([s.max_lag for s in cell])):>9}"
                f"{ms(statistics.median(s.enter_to_idle for s in cell)):>9}"
                f"{f'{sum(s.text_ok for s in cell)}/{len(cell)}':>9}"
            )
    print(
        "(medians; lags in ms behind the model's own send of the token: first, last, and the "
        "largest of any token; E->idle: Enter to the last frame)"
    )


def print_goals(run: Run, shapes: list[Shape]) -> None:
    print()
    for shape in shapes:
        cell = run.cell(OURS, shape)
        if not cell:
            continue
        ratio = statistics.median(s.ratio for s in cell)
        goal = RATIO_GOALS[shape.name]
        measured = f"{OURS}, {shape.name}: WebSocket bytes {times(ratio)} the answer"
        print(goal_line(measured, f"<= {goal:g}x", ratio <= goal))
        for what, values, limit in (
            ("first text", [s.first_lag for s in cell], FIRST_GOAL_MS),
            ("last text", [s.last_lag for s in cell], LAST_GOAL_MS),
            ("the largest lag", [s.max_lag for s in cell], LAG_GOAL_MS),
        ):
            lag = median_of(values)
            measured = f"{OURS}, {shape.name}: {what} {ms(lag)} ms behind the model"
            print(goal_line(measured, f"<= {limit:g} ms", lag is not None and lag <= limit))


def print_anatomy(run: Run, shapes: list[Shape]) -> None:
    """What the frames of one turn per app and answer carried, by kind of ForwardMsg."""
    print()
    print("what the page received in one turn (the last of each), by what the frames carry:")
    for shape in shapes:
        for app in (OURS, PLAIN):
            cell = run.cell(app, shape)
            if not cell:
                continue
            kinds: dict[str, list[Frame]] = defaultdict(list)
            for frame in cell[-1].frames:
                kinds[frame.kind].append(frame)
            parts = []
            for kind, frames in sorted(kinds.items(), key=lambda k: -sum(f.size for f in k[1])):
                total = sum(f.size for f in frames)
                part = f"{kind} {len(frames):,} frames {size(total)}"
                if text := sum(f.text for f in frames):
                    overhead = (total - text) / len(frames)
                    part += f" (text {size(text)}, {overhead:.0f} B a frame besides)"
                parts.append(part)
            print(f"  {app}, {shape.name}: " + "; ".join(parts))


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = parse_args(argv)
    print(versions_line())
    print(f"{ModelTiming.from_args(args).describe()}; {args.repeats} turns per app and answer")
    shapes = [
        Shape("paragraphs", prose_tokens(args.tokens, PARAGRAPH_WORDS)),
        Shape("one paragraph", prose_tokens(args.tokens, None)),
    ]
    for shape in shapes:
        print(shape.describe())
    run = Run()
    model = Model(args.ttft, args.token_delay)
    with errors_noted(run.problems), FakeBedrock(model.responder) as fake:
        measure(args, shapes, model, fake, run)
    print_turns(run)
    print_table(run, shapes)
    print_goals(run, shapes)
    print_anatomy(run, shapes)
    print_offhost(run.offhost)
    print_warnings(run.server_log, run.problems)
    print(total_run_line(started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
