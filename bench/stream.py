"""Streaming overhead of the chat pipeline over a raw boto3 ``converse_stream`` call.

Both sides talk to the loopback Bedrock (``loopback/bedrock.py``), which answers every request
with ``--tokens`` text deltas, ``--ttft`` seconds before the first and ``--token-delay`` seconds
between the others. Turns alternate baseline / pipeline so machine noise hits both alike.

- baseline: ``bedrock-runtime`` client, ``converse_stream(...)``, iterating the event stream.
- pipeline: ``chat_turn(...)`` then ``turn.stream()``, exactly as the chat page hands it to
  ``st.write_stream``; ``turn.finish(store, memory)`` is timed separately, as it runs after
  the last token is on screen.

    python -m bench.stream [--turns 20] [--ttft 0.3] [--token-delay 0.01] [--tokens 200]

A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass, field

import boto3
from langchain_core.language_models import BaseChatModel

from bench.common import (
    ModelTiming,
    add_model_args,
    bench_env,
    environ_as,
    goal_line,
    korean_tokens,
    p90,
    scratch,
    versions_line,
)
from chatbot import llm
from chatbot.access import UserHistory
from chatbot.config import Settings
from chatbot.conversation import TurnContext, chat_turn
from chatbot.identity import Identity
from chatbot.memory import remember
from chatbot.modes import MODES
from chatbot.store.outbox import Outbox
from chatbot.store.sqlite import SqliteStore
from loopback.bedrock import FakeBedrock, RecordedRequest, Reply

MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
MAX_OUTPUT = Settings().chat_max_output_tokens  # the app's default output limit
REGION = "us-east-1"
QUESTION = "서울에서 주말에 가볼 만한 곳을 추천해 주세요."
MODE = MODES["normal"]

TTFT_GOAL_MS = 5.0
TOTAL_GOAL_PCT = 2.0


@dataclass
class Sample:
    ttft: float  # seconds from just before the request to the first text piece
    total: float  # seconds from just before the request to the end of the stream
    text: str


def baseline_turn(client: object, system: str) -> Sample:
    started = time.perf_counter()
    response = client.converse_stream(  # type: ignore[attr-defined]
        modelId=MODEL_ID,
        messages=[{"role": "user", "content": [{"text": QUESTION}]}],
        system=[{"text": system}],
    )
    first: float | None = None
    parts: list[str] = []
    for event in response["stream"]:
        delta = event.get("contentBlockDelta")
        if delta is None:
            continue
        text = delta["delta"].get("text")
        if text:
            if first is None:
                first = time.perf_counter()
            parts.append(text)
    ended = time.perf_counter()
    return Sample((first or ended) - started, ended - started, "".join(parts))


def pipeline_turn(model: BaseChatModel, history: UserHistory) -> tuple[Sample, float]:
    """One turn as the chat page runs it; returns the stream sample and the finish time."""
    memory: list = []  # a new conversation each turn, as ChatSession.memory starts
    started = time.perf_counter()
    context = TurnContext(lambda: model, MODEL_ID, "bench", memory=memory, window_k=10)
    turn = chat_turn(context, MODE, QUESTION)
    first: float | None = None
    parts: list[str] = []
    for piece in turn.stream():
        if first is None:
            first = time.perf_counter()
        parts.append(piece)
    ended = time.perf_counter()
    dialog = turn.to_dialog()
    history.save(dialog)  # through the outbox and its writer thread, as the page saves
    remember(memory, dialog)
    finished = time.perf_counter()
    if turn.error is not None:
        raise RuntimeError(f"pipeline turn failed: {turn.error!r}") from turn.error
    return Sample((first or ended) - started, ended - started, "".join(parts)), finished - ended


def _row(label: str, base: float, pipe: float) -> str:
    diff = (pipe - base) * 1000
    ratio = pipe / base if base else float("nan")
    return f"{label:<14}{base * 1000:>11.1f}{pipe * 1000:>11.1f}{diff:>+10.1f}{ratio:>9.4f}"


@dataclass
class Runs:
    """The timed turns of both sides, in the order they ran."""

    base: list[Sample] = field(default_factory=list)
    pipe: list[Sample] = field(default_factory=list)
    finish: list[float] = field(default_factory=list)  # seconds of each pipeline turn's save


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20, help="timed turns per side")
    add_model_args(parser, tokens=200, tokens_help="text deltas per answer")
    args = parser.parse_args(argv)
    args.turns = max(1, args.turns)
    args.tokens = max(1, args.tokens)
    return args


def measure(args: argparse.Namespace, tokens: list[str]) -> Runs:
    """A warm-up turn of each side, then ``args.turns`` of each, interleaved."""

    def responder(_request: RecordedRequest) -> Reply:
        return Reply(tokens=tokens, ttft=args.ttft, token_delay=args.token_delay)

    runs = Runs()
    with (
        scratch("stream") as tmp,
        FakeBedrock(responder) as fake,
        environ_as(bench_env(tmp, fake.env())),
    ):
        store = SqliteStore(tmp / "dialogs.sqlite3")
        outbox = Outbox(tmp / "outbox.sqlite3", store)
        history = UserHistory(store, Identity("bench", analyst=False), outbox)
        client = boto3.client("bedrock-runtime", region_name=REGION)
        # Built once, outside the timing, as the app caches it with st.cache_resource.
        model = llm.chat_model(llm.bedrock_runtime_client(REGION), MODEL_ID, MAX_OUTPUT)
        system = MODE.system_prompt(QUESTION)

        # Warm-up: first connection, credential resolution, lazy imports.
        baseline_turn(client, system)
        pipeline_turn(model, history)

        for _ in range(args.turns):
            runs.base.append(baseline_turn(client, system))
            sample, finish_s = pipeline_turn(model, history)
            runs.pipe.append(sample)
            runs.finish.append(finish_s)
        outbox.close()
    return runs


def print_figures(runs: Runs) -> None:
    b_ttft, p_ttft = [s.ttft for s in runs.base], [s.ttft for s in runs.pipe]
    b_total, p_total = [s.total for s in runs.base], [s.total for s in runs.pipe]
    med = statistics.median
    print()
    print(f"{'(ms)':<14}{'baseline':>11}{'pipeline':>11}{'diff':>10}{'ratio':>9}")
    print(_row("ttft median", med(b_ttft), med(p_ttft)))
    print(_row("ttft p90", p90(b_ttft), p90(p_ttft)))
    print(_row("total median", med(b_total), med(p_total)))
    print(_row("total p90", p90(b_total), p90(p_total)))
    print(
        f"{'finish median':<14}{'':>11}{med(runs.finish) * 1000:>11.2f}"
        f"   (p90 {p90(runs.finish) * 1000:.2f}; save through the outbox + memory, not in total)"
    )


def print_goals(runs: Runs) -> None:
    med = statistics.median
    ttft_added = (med(s.ttft for s in runs.pipe) - med(s.ttft for s in runs.base)) * 1000
    total_added = (med(s.total for s in runs.pipe) / med(s.total for s in runs.base) - 1) * 100
    print()
    measured = f"pipeline adds {ttft_added:.1f} ms to first token"
    print(goal_line(measured, f"<= {TTFT_GOAL_MS:g} ms", ttft_added <= TTFT_GOAL_MS))
    measured = f"pipeline adds {total_added:.2f}% to total"
    print(goal_line(measured, f"<= {TOTAL_GOAL_PCT:g}%", total_added <= TOTAL_GOAL_PCT))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tokens = korean_tokens(args.tokens)
    print(versions_line("boto3", "botocore", "langchain-aws", "langchain-core"))
    print(
        f"{ModelTiming.from_args(args).describe(with_stream=False)}; "
        f"{args.turns} turns each, interleaved A B A B"
    )
    runs = measure(args, tokens)
    for name, samples in (("baseline", runs.base), ("pipeline", runs.pipe)):
        wrong = sum(s.text.strip() != "".join(tokens).strip() for s in samples)
        if wrong:
            print(f"WARNING: {wrong} {name} turns streamed an unexpected text")
    print_figures(runs)
    print_goals(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
