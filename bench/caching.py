"""Prompt caching over a conversation: input tokens billed at the full rate, turn by turn.

One conversation of ``--turns`` questions in the general mode (서연, a window of
``--window-k`` exchanges), the same questions and answers three ways, each against a new
loopback Bedrock (``loopback.bedrock.PromptCache``: 1,024-token minimum, 20-block look-back,
four UTF-8 bytes a token):

- off: no cache points (``CHAT_PROMPT_CACHE=false``), as the app was before;
- sliding: cache points, the window sliding by one exchange a turn (the window before);
- on: cache points, the window moving half a window at a time (the app now).

Per turn, the input tokens billed at the full rate (Bedrock's ``inputTokens``), and those read
from and written to the cache; totals; and the input's price against "off" at Bedrock's
prices for Claude (a cache write 1.25 times the input price, a read 0.1 times). The model's
time to first token is ``--ttft``, ``--saving`` less on a cache hit, as measured by the turn.

    python -m bench.caching [--turns 20] [--window-k 10] [--answer-chars 700]
                            [--ttft 0.5] [--saving 0.2]

A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from contextlib import nullcontext
from dataclasses import dataclass
from unittest import mock

from bench.common import bench_env, environ_as, scratch, versions_line
from chatbot import llm
from chatbot.config import Settings
from chatbot.conversation import TurnContext, chat_turn
from chatbot.memory import remember
from chatbot.modes import MODES
from chatbot.store.base import Dialog
from loopback.bedrock import FakeBedrock, RecordedRequest, Reply, last_user_text

MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
MAX_OUTPUT = Settings().chat_max_output_tokens  # the app's default output limit
REGION = "us-east-1"
MODE = MODES["normal"]
WRITE_PRICE, READ_PRICE = 1.25, 0.1  # times the input price, Claude on Bedrock

_TOPICS = ("경복궁", "북촌 한옥마을", "남산타워", "한강 공원", "광장시장", "인사동", "성수동")


@dataclass(frozen=True)
class Variant:
    name: str
    prompt_cache: bool
    sliding: bool = False


VARIANTS = (Variant("off", False), Variant("sliding", True, sliding=True), Variant("on", True))


@dataclass(frozen=True)
class Usage:
    full: int  # billed at the full input price
    read: int
    written: int
    ttft_ms: int

    @classmethod
    def of(cls, dialog: Dialog) -> Usage:
        read, written = dialog.cache_read_tokens or 0, dialog.cache_write_tokens or 0
        full = (dialog.input_tokens or 0) - read - written
        return cls(full, read, written, dialog.ttft_ms or 0)

    @property
    def price(self) -> float:
        """In input-token prices."""
        return self.full + WRITE_PRICE * self.written + READ_PRICE * self.read


def question(index: int) -> str:
    return f"{_TOPICS[index % len(_TOPICS)]}에 대해 {index + 1}번째로 더 알려 주세요."


def answer(request: RecordedRequest, chars: int) -> str:
    """A Korean answer of about ``chars`` characters that names its question."""
    sentence = f"{last_user_text(request.body)[:12]}은 서울에서 꼭 가 볼 만한 곳입니다. "
    return (sentence * (chars // len(sentence) + 1))[:chars]


def converse(variant: Variant, args: argparse.Namespace) -> list[Usage]:
    """The conversation, turn by turn as the chat page runs it, against a cold cache."""

    def responder(request: RecordedRequest) -> Reply:
        return Reply(text=answer(request, args.answer_chars), ttft=args.ttft)

    # The window before: the same function with steps of one exchange.
    sliding = mock.patch("chatbot.memory.window_step", lambda k: 1)
    usages: list[Usage] = []
    with (
        scratch("caching") as tmp,
        FakeBedrock(responder, cache_hit_saving=args.saving) as fake,
        environ_as(bench_env(tmp, fake.env())),
        sliding if variant.sliding else nullcontext(),
    ):
        model = llm.chat_model(llm.bedrock_runtime_client(REGION), MODEL_ID, MAX_OUTPUT)
        memory: list = []
        for index in range(args.turns):
            context = TurnContext(
                lambda: model,
                MODEL_ID,
                "bench",
                memory=memory,
                window_k=args.window_k,
                prompt_cache=variant.prompt_cache,
            )
            turn = chat_turn(context, MODE, question(index))
            for _ in turn.stream():
                pass
            dialog = turn.to_dialog()
            if turn.error is not None:
                raise RuntimeError(f"turn {index + 1} failed: {turn.error!r}")
            remember(memory, dialog)
            usages.append(Usage.of(dialog))
    return usages


def print_turns(runs: dict[str, list[Usage]]) -> None:
    header = f"{'turn':>4}" + "".join(f"{name + ' full':>15}" for name in runs)
    header += "".join(f"{name + ' read':>15}{name + ' write':>15}" for name in list(runs)[1:])
    print(header)
    for index, usages in enumerate(zip(*runs.values(), strict=True), 1):
        row = f"{index:>4}" + "".join(f"{u.full:>15,}" for u in usages)
        row += "".join(f"{u.read:>15,}{u.written:>15,}" for u in usages[1:])
        print(row)


def print_totals(runs: dict[str, list[Usage]]) -> None:
    base = sum(u.price for u in runs["off"])
    print()
    print(f"{'':<9}{'full':>10}{'read':>10}{'written':>10}{'price':>9}{'ttft median':>15}")
    for name, usages in runs.items():
        full, read = sum(u.full for u in usages), sum(u.read for u in usages)
        written, price = sum(u.written for u in usages), sum(u.price for u in usages)
        ttft = statistics.median(u.ttft_ms for u in usages)
        print(f"{name:<9}{full:>10,}{read:>10,}{written:>10,}{price / base:>9.0%}{ttft:>12.0f} ms")
    print(
        "full: input tokens billed at the full price; price: the input's price against off "
        f"(a write {WRITE_PRICE:g}x, a read {READ_PRICE:g}x the input price)"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--window-k", type=int, default=10, help="CHAT_WINDOW_K")
    parser.add_argument("--answer-chars", type=int, default=700, help="characters an answer")
    parser.add_argument("--ttft", type=float, default=0.5, help="seconds to the first token")
    parser.add_argument("--saving", type=float, default=0.2, help="seconds a cache hit saves")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(versions_line("langchain-aws", "langchain-core", "boto3"))
    print(
        f"{args.turns} turns, window {args.window_k}, answers of {args.answer_chars} Korean "
        f"characters; model {MODEL_ID}"
    )
    runs = {variant.name: converse(variant, args) for variant in VARIANTS}
    print_turns(runs)
    print_totals(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
