"""Streamed Markdown in blocks, and chunks coalesced in time: what keeps a long answer's bytes
on the wire linear instead of quadratic.

``st.write_stream`` re-sends the whole text so far on every chunk, so a 32 KB answer of 3,000
chunks costs the browser about 1,250 times its size. Here the answer is cut at its blank lines
(outside code fences) into blocks: a finished block is sent once, as an element of its own, and
only the open block is re-sent as it grows; and the chunks of the open block are coalesced, at
most one update per interval that grows with the block (a long paragraph is re-sent less
often). The first chunk is never held back. The blocks are a preview: once the answer is
complete, the page draws it again as one Markdown element, exactly as a replay does.

No Streamlit here: ``chatbot.ui.chat_view`` hands each block to ``st.write_stream``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator

# Between the updates of the open block: at least MIN_INTERVAL_S, and more as the block grows
# (one re-send of a block of B bytes per B / BYTES_PER_S seconds keeps a paragraph's cost near
# BYTES_PER_S / (the model's rate) times its size), but never more than MAX_INTERVAL_S, so the
# page trails the model by less than that.
MIN_INTERVAL_S = 0.15
MAX_INTERVAL_S = 0.2
BYTES_PER_S = 50_000

# A fence opens or closes a code block, in which blank lines do not end a block.
_FENCE = re.compile(r" {0,3}(`{3,}|~{3,})")
_LINE_KEPT = 256
# A blank line, and the blank lines after it (the next line keeps its indentation).
_BREAK = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")


class _Pacer:
    """When the open block may be sent again: shared by all blocks of one answer."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._last: float | None = None

    def due(self, block_bytes: int) -> bool:
        now = self._clock()
        if self._last is not None:
            wait = min(MAX_INTERVAL_S, max(MIN_INTERVAL_S, block_bytes / BYTES_PER_S))
            if now - self._last < wait:
                return False
        self._last = now
        return True

    def sent(self) -> None:
        self._last = self._clock()


class Blocks:
    """Splits streamed Markdown ``pieces`` into blocks at blank lines outside code fences.

    Iterate it for the blocks; iterate each block (fully, before the next) for its text in
    coalesced pieces. The blank lines between blocks are not part of either.
    """

    def __init__(self, pieces: Iterable[str], clock: Callable[[], float] = time.monotonic) -> None:
        self._pieces = iter(pieces)
        self._pacer = _Pacer(clock)
        self._held = ""  # arrived, not yet given to a block: a possible block break
        self._line = ""  # the current line so far, for the fence state
        self._fence: str | None = None  # the open fence's marker, if inside one
        self._ended = False

    def __iter__(self) -> Iterator[Iterator[str]]:
        while not self._ended:
            yield self._block()

    def _block(self) -> Iterator[str]:
        text_bytes = 0
        unsent = ""
        for part, ends_block in self._parts():
            unsent += part
            text_bytes += len(part.encode())
            if ends_block:
                break
            if unsent and self._pacer.due(text_bytes):
                yield unsent
                unsent = ""
        if unsent:
            self._pacer.sent()
            yield unsent

    def _parts(self) -> Iterator[tuple[str, bool]]:
        """The text of the current block as it arrives, and whether a break ends the block."""
        text, self._held = self._held, ""
        while True:
            cut = self._break_in(text)
            if cut is not None:
                before, self._held = text[: cut[0]], text[cut[1] :]
                self._track_fences(text[: cut[1]])  # the break's newlines end its lines
                yield before, True
                return
            # Hold back a trailing newline and the blanks after it: they may become a break.
            keep = _trailing_break_candidate(text)
            out, pending = text[: len(text) - keep], text[len(text) - keep :]
            self._track_fences(out)
            if out:
                yield out, False
            try:
                text = pending + next(self._pieces)
            except StopIteration:  # what is still held is blank: the answer ends before it
                self._ended = True
                return

    def _break_in(self, text: str) -> tuple[int, int] | None:
        """Where a blank line outside a fence ends the block in ``text``: (end of the block's
        text, start of the next block's), or None. A break needs text after it, so that the
        last block never ends in an empty one."""
        for match in _BREAK.finditer(text):
            if not text[match.end() :].strip():
                return None
            # After the newline that ends the line before the blank one: it may be a fence.
            if not self._inside_fence_at(text, match.start() + 1):
                return match.start(), match.end()
        return None

    def _inside_fence_at(self, text: str, position: int) -> bool:
        """Whether ``position`` of ``text`` (which follows what was already tracked) is
        inside a code fence."""
        fence = self._fence
        line = self._line
        for char in text[:position]:
            if char == "\n":
                fence = _next_fence(fence, line)
                line = ""
            else:
                line += char
        return fence is not None

    def _track_fences(self, text: str) -> None:
        *ended, rest = text.split("\n")
        if ended:
            for line in (self._line + ended[0], *ended[1:]):
                self._fence = _next_fence(self._fence, line)
            self._line = ""
        # Only a line's start can make it a fence: a long line is not kept whole (a one-
        # paragraph answer is one line of 30 KB).
        self._line = (self._line + rest)[:_LINE_KEPT]


def _next_fence(fence: str | None, line: str) -> str | None:
    """The fence state after a complete ``line``."""
    match = _FENCE.match(line)
    if match is None:
        return fence
    marker = match.group(1)
    if fence is None:
        return marker
    if marker[0] == fence[0] and len(marker) >= len(fence) and not line[match.end() :].strip():
        return None
    return fence


def _trailing_break_candidate(text: str) -> int:
    """How many characters at the end of ``text`` could still become a block break: a final
    newline and what follows it, if that is only blanks and newlines."""
    stripped = text.rstrip(" \t\n")
    tail = text[len(stripped) :]
    return len(tail) - tail.index("\n") if "\n" in tail else 0
