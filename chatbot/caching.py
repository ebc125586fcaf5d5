"""Prompt caching on Bedrock: where a request's cache points go.

Bedrock caches a request's prefix up to each ``cachePoint`` block. A later request that
repeats the prefix reads it from the cache, billed at a tenth of the input price, and its
first token comes sooner; writing it costs a quarter more than plain input, once. A turn's
prompt is the system prompt, the conversation's window, then the question: the first two
repeat from turn to turn (``chatbot.memory.window`` moves in steps so that the window does),
so each gets a cache point, where the prefix up to it reaches the model's minimum.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import BaseMessage

CACHE_POINT: dict[str, Any] = {"cachePoint": {"type": "default"}}

# The fewest tokens a cached prefix may have, by model family (Amazon Bedrock User Guide,
# "Prompt caching", supported models; Anthropic's "Prompt caching" for the same models;
# checked November 2026). First match wins, so a longer name comes before its prefix. A
# model not listed gets no cache points: Bedrock refuses them where it has no caching.
_MIN_TOKENS: tuple[tuple[str, int], ...] = (
    ("claude-opus-4-5", 4096),
    ("claude-opus-4-6", 4096),
    ("claude-haiku-4-5", 4096),
    ("claude-sonnet-4-6", 2048),
    ("claude-3-5-haiku", 2048),
    ("claude-opus-4", 1024),
    ("claude-sonnet-4", 1024),
    ("claude-3-7-sonnet", 1024),
)


def minimum_tokens(model_id: str) -> int | None:
    """The model's minimum cacheable prefix in tokens; None if it has no prompt caching.

    Inference profile ids (``global.anthropic.claude-...``) match by their model's name."""
    name = model_id.lower()
    return next((tokens for family, tokens in _MIN_TOKENS if family in name), None)


def estimated_tokens(text: str) -> int:
    """A generous estimate of Claude's token count: UTF-8 bytes / 3, so a Hangul syllable
    counts one token and English about 1.3 per word. Too high an estimate only places a cache
    point Bedrock then ignores (a prefix under the minimum is not cached, and not refused)."""
    return len(text.encode()) // 3


def with_cache_points(messages: Sequence[BaseMessage], model_id: str) -> list[BaseMessage]:
    """``messages`` (system prompt, window, question) with a cache point after the system
    prompt and after the window's last message, each where the prefix up to it reaches the
    model's minimum. The question, new every turn, gets none: Claude finds a prefix cached
    at the previous turn's point by itself, looking back up to 20 blocks from a point."""
    minimum = minimum_tokens(model_id)
    marked = list(messages)
    if minimum is None or len(marked) < 2:
        return marked
    prefix_tokens = 0
    window_end = len(marked) - 2
    for index, message in enumerate(marked[: window_end + 1]):
        prefix_tokens += estimated_tokens(message.text)
        if (index == 0 or index == window_end) and prefix_tokens >= minimum:
            marked[index] = _with_cache_point(message)
    return marked


def _with_cache_point(message: BaseMessage) -> BaseMessage:
    """A copy of ``message`` whose content ends with a cache point (the memory keeps its own)."""
    return message.model_copy(
        update={"content": [{"type": "text", "text": message.text}, CACHE_POINT]}
    )
