"""The conversation window: which past messages go into the prompt."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import accumulate

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, trim_messages

from chatbot.modes import DEFAULT_MODE, MODES
from chatbot.store.base import Dialog, DialogType, Status

# A size bound on top of the k exchanges, so a few very long answers cannot overflow the
# model's context; about 8k tokens of Korean or English text.
WINDOW_MAX_CHARS = 24_000


def window_step(k: int) -> int:
    """How many exchanges the window drops at once: half of it, rounded up."""
    return max(1, (k + 1) // 2)


def window(
    messages: Sequence[BaseMessage], k: int, max_chars: int = WINDOW_MAX_CHARS
) -> list[BaseMessage]:
    """The newest exchanges of ``messages``: at most ``k`` of them and ``max_chars`` in all.

    The window's first exchange moves in steps of ``window_step(k)`` exchanges counted from
    the conversation's start, not one exchange a turn: from one turn to the next the window
    mostly grows at its end, so the prompt prefix cached up to it (``chatbot.caching``) stays
    valid. Once the conversation is longer than ``k``, it holds ``k - step + 1`` to ``k``.
    """
    if k <= 0:
        return []
    starts = [i for i, message in enumerate(messages) if isinstance(message, HumanMessage)]
    # chars_from[i]: the characters of messages[i:]
    chars_from = [*accumulate((len(m.text) for m in reversed(messages)), initial=0)][::-1]
    step = window_step(k)
    while True:
        for first in range(0, len(starts), step):
            if len(starts) - first <= k and chars_from[starts[first]] <= max_chars:
                return list(messages[starts[first] :])
        if step == 1:
            break
        step = (step + 1) // 2  # the newest step alone is over max_chars: finer steps
    # The newest exchange alone is over max_chars.
    return trim_messages(
        messages,
        max_tokens=max_chars,
        token_counter=lambda msgs: sum(len(m.text) for m in msgs),
        strategy="last",
        start_on="human",
    )


def is_conversational(dialog: Dialog) -> bool:
    """Whether a stored dialog belongs in the memory (rows of the original have no mode; a
    replaced turn is gone from its conversation)."""
    mode = MODES.get(dialog.mode or DEFAULT_MODE)
    return (
        dialog.type == DialogType.TEXT
        and not dialog.superseded_by
        and mode is not None
        and mode.uses_history
        and dialog.status in (Status.COMPLETE, Status.CUT)
    )


def exchange(question: str, answer: str) -> list[BaseMessage]:
    return [HumanMessage(question), AIMessage(answer)]


def remember(memory: list[BaseMessage], dialog: Dialog) -> None:
    """Feed a finished turn to the memory, if it belongs to the conversation."""
    if is_conversational(dialog):
        memory.extend(exchange(dialog.body, dialog.msg))
