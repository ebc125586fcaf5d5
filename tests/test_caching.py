"""Where a turn's prompt gets its cache points (chatbot.caching)."""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

from chatbot.caching import CACHE_POINT, estimated_tokens, minimum_tokens, with_cache_points

SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


@pytest.mark.parametrize(
    ("model_id", "minimum"),
    [
        (SONNET, 1024),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", 4096),
        ("anthropic.claude-3-5-haiku-20241022-v1:0", 2048),
        ("anthropic.claude-3-7-sonnet-20250219-v1:0", 1024),
        ("global.anthropic.claude-opus-4-5-20251101-v1:0", 4096),
        ("anthropic.claude-opus-4-1-20250805-v1:0", 1024),
        ("anthropic.claude-3-haiku-20240307-v1:0", None),  # no prompt caching on Bedrock
        ("amazon.nova-pro-v1:0", None),
    ],
)
def test_each_model_family_has_its_minimum_or_none(model_id: str, minimum: int | None) -> None:
    assert minimum_tokens(model_id) == minimum


def test_the_estimate_counts_a_hangul_syllable_as_a_token() -> None:
    assert estimated_tokens("안녕하세요") == 5
    assert estimated_tokens("hello world!") == 4


def has_point(message) -> bool:
    return isinstance(message.content, list) and message.content[-1] == CACHE_POINT


def prompt(system_chars: int, answer_chars: int) -> list:
    return [
        SystemMessage("규" * system_chars),
        HumanMessage("질문"),
        AIMessage("답" * answer_chars),
        HumanMessage("새 질문"),
    ]


def test_points_go_where_the_prefix_reaches_the_minimum() -> None:
    short = with_cache_points(prompt(100, 100), SONNET)
    assert not any(has_point(m) for m in short)
    # The window takes the prefix over 1,024 tokens: a point after it, none after the system.
    window_only = with_cache_points(prompt(100, 1000), SONNET)
    assert [has_point(m) for m in window_only] == [False, False, True, False]
    both = with_cache_points(prompt(1100, 10), SONNET)
    assert [has_point(m) for m in both] == [True, False, True, False]
    assert both[2].text == "답" * 10 and both[0].text == "규" * 1100  # the text is kept


def test_no_points_for_a_model_without_caching_and_the_memory_is_not_changed() -> None:
    messages = prompt(2000, 2000)
    assert with_cache_points(messages, "anthropic.claude-3-haiku-20240307-v1:0") == messages
    marked = with_cache_points(messages, SONNET)
    assert has_point(marked[2]) and messages[2].content == "답" * 2000


def test_a_prompt_without_a_window_gets_a_point_only_after_the_system_prompt() -> None:
    messages = [SystemMessage("규" * 2000), HumanMessage("질문")]
    assert [has_point(m) for m in with_cache_points(messages, SONNET)] == [True, False]
