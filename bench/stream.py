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
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import boto3  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402

from bench.common import p90, versions_line  # noqa: E402
from chatbot import llm  # noqa: E402
from chatbot.access import UserHistory  # noqa: E402
from chatbot.conversation import TurnContext, chat_turn  # noqa: E402
from chatbot.identity import Identity  # noqa: E402
from chatbot.memory import remember  # noqa: E402
from chatbot.modes import MODES  # noqa: E402
from chatbot.store.outbox import Outbox  # noqa: E402
from chatbot.store.sqlite import SqliteStore  # noqa: E402
from loopback.bedrock import FakeBedrock, RecordedRequest, Reply  # noqa: E402

MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
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


def _tokens(n: int) -> list[str]:
    """``n`` word-sized deltas, Korean like the app's answers, each with its trailing space."""
    words = ("서울", "한강", "공원", "박물관", "시장", "카페", "산책", "야경")
    return [f"{words[i % len(words)]}{i} " for i in range(n)]


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20, help="timed turns per side")
    parser.add_argument("--ttft", type=float, default=0.3, help="seconds to the first token")
    parser.add_argument("--token-delay", type=float, default=0.01, help="seconds between tokens")
    parser.add_argument("--tokens", type=int, default=200, help="text deltas per answer")
    args = parser.parse_args(argv)
    turns = max(1, args.turns)
    tokens = _tokens(max(1, args.tokens))
    expected = "".join(tokens)

    def responder(_request: RecordedRequest) -> Reply:
        return Reply(tokens=tokens, ttft=args.ttft, token_delay=args.token_delay)

    print(versions_line("boto3", "botocore", "langchain-aws", "langchain-core"))
    print(
        f"loopback Bedrock: ttft {args.ttft * 1000:.0f} ms, {len(tokens)} tokens "
        f"{args.token_delay * 1000:.0f} ms apart; {turns} turns each, interleaved A B A B"
    )

    fake = FakeBedrock(responder).start()
    os.environ.update(fake.env())
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    os.environ.pop("AWS_PROFILE", None)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
            store = SqliteStore(Path(tmp) / "dialogs.sqlite3")
            outbox = Outbox(Path(tmp) / "outbox.sqlite3", store)
            history = UserHistory(store, Identity("bench", analyst=False), outbox)
            client = boto3.client("bedrock-runtime", region_name=REGION)
            # Built once, outside the timing, as the app caches it with st.cache_resource.
            model = llm.chat_model(llm.bedrock_runtime_client(REGION), MODEL_ID)
            system = MODE.system_prompt(QUESTION)

            # Warm-up: first connection, credential resolution, lazy imports.
            baseline_turn(client, system)
            pipeline_turn(model, history)

            base: list[Sample] = []
            pipe: list[Sample] = []
            finish: list[float] = []
            for _ in range(turns):
                base.append(baseline_turn(client, system))
                sample, finish_s = pipeline_turn(model, history)
                pipe.append(sample)
                finish.append(finish_s)
            outbox.close()
    finally:
        fake.stop()

    for name, samples in (("baseline", base), ("pipeline", pipe)):
        wrong = sum(s.text.strip() != expected.strip() for s in samples)
        if wrong:
            print(f"WARNING: {wrong} {name} turns streamed an unexpected text")

    b_ttft = [s.ttft for s in base]
    p_ttft = [s.ttft for s in pipe]
    b_total = [s.total for s in base]
    p_total = [s.total for s in pipe]
    med = statistics.median

    print()
    print(f"{'(ms)':<14}{'baseline':>11}{'pipeline':>11}{'diff':>10}{'ratio':>9}")
    print(_row("ttft median", med(b_ttft), med(p_ttft)))
    print(_row("ttft p90", p90(b_ttft), p90(p_ttft)))
    print(_row("total median", med(b_total), med(p_total)))
    print(_row("total p90", p90(b_total), p90(p_total)))
    print(
        f"{'finish median':<14}{'':>11}{med(finish) * 1000:>11.2f}"
        f"   (p90 {p90(finish) * 1000:.2f}; save through the outbox + memory, not in total)"
    )

    ttft_added = (med(p_ttft) - med(b_ttft)) * 1000
    total_added = (med(p_total) / med(b_total) - 1) * 100
    print()
    print(
        f"pipeline adds {ttft_added:.1f} ms to first token (goal <= {TTFT_GOAL_MS:g} ms): "
        f"{'PASS' if ttft_added <= TTFT_GOAL_MS else 'MISS'}"
    )
    print(
        f"pipeline adds {total_added:.2f}% to total (goal <= {TOTAL_GOAL_PCT:g}%): "
        f"{'PASS' if total_added <= TOTAL_GOAL_PCT else 'MISS'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
