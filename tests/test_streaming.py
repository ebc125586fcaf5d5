"""Streamed Markdown in blocks: the same blocks however the text arrives, nothing lost."""

from __future__ import annotations

import re
from itertools import count, pairwise

from hypothesis import given
from hypothesis import strategies as st

from chatbot.streaming import MAX_INTERVAL_S, MIN_INTERVAL_S, Blocks


def blocks_of(chunks: list[str], clock=lambda: 0.0) -> list[list[str]]:
    return [list(block) for block in Blocks(chunks, clock=clock)]


def texts(chunks: list[str]) -> list[str]:
    return ["".join(block) for block in blocks_of(chunks)]


def test_paragraphs_are_blocks_and_code_fences_keep_their_blank_lines() -> None:
    text = "첫 문단입니다.\n\n```python\nx = 1\n\n\ny = 2\n```\n\n- 하나\n- 둘\n\n끝."
    assert texts([text]) == [
        "첫 문단입니다.",
        "```python\nx = 1\n\n\ny = 2\n```",
        "- 하나\n- 둘",
        "끝.",
    ]
    assert texts(list(text)) == texts([text])  # one character at a time


def test_a_tilde_fence_closes_only_with_tildes_at_least_as_long() -> None:
    text = "~~~~\na\n\n```\nb\n\n~~~~\n\nafter"
    assert texts(list(text)) == ["~~~~\na\n\n```\nb\n\n~~~~", "after"]


def test_trailing_blank_lines_make_no_empty_block() -> None:
    assert texts(["one\n\n", "two\n\n\n"]) == ["one", "two"]
    assert texts(["one\n\n  ", "  \n"]) == ["one"]
    assert texts([]) == [""]


TEXT = st.text(alphabet="ab가 \n`~-#|1.\t", max_size=120)


@given(TEXT, st.lists(st.integers(min_value=0, max_value=120), max_size=12))
def test_the_blocks_do_not_depend_on_how_the_text_arrives(text: str, cuts: list[int]) -> None:
    points = sorted({0, len(text), *(cut for cut in cuts if cut <= len(text))})
    chunks = [text[a:b] for a, b in pairwise(points)]
    assert texts(chunks) == texts([text])


@given(TEXT)
def test_every_character_but_break_whitespace_arrives_in_order(text: str) -> None:
    blocks = texts(list(text))
    assert re.sub(r"\s", "", "".join(blocks)) == re.sub(r"\s", "", text)
    assert all(block == block.rstrip("\n") or block.strip() == "" for block in blocks[:-1])


def test_the_first_chunk_goes_at_once_then_updates_are_paced() -> None:
    ticks = count()
    clock = lambda: next(ticks) * 0.01  # noqa: E731  a chunk every 10 ms
    tokens = [f"w{i} " for i in range(200)]  # one 2 s paragraph
    [block] = blocks_of(tokens, clock)
    assert block[0] == "w0 "  # never held back
    assert "".join(block) == "".join(tokens)
    # At most one update per MIN_INTERVAL_S (10 ms chunks: about 20 in 2 s), and the text
    # never waits more than MAX_INTERVAL_S for one.
    assert len(block) <= 2 / MIN_INTERVAL_S + 2
    assert len(block) >= 2 / MAX_INTERVAL_S


def test_a_finished_block_is_sent_whole_at_once() -> None:
    clock = lambda: 0.0  # noqa: E731  no time passes: only the first chunk and breaks go out
    blocks = blocks_of(["a", "b", "c\n\n", "d", "e"], clock)
    assert blocks == [["a", "bc"], ["de"]]
