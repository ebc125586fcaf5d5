"""The conversation window: which past messages go into the prompt."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, trim_messages

from chatbot.modes import DEFAULT_MODE, MODES
from chatbot.store.base import Dialog, DialogType, Status

# A size bound on top of the k exchanges, so a few very long answers cannot overflow the
# model's context; about 8k tokens of Korean or English text.
WINDOW_MAX_CHARS = 24_000

# Replayed answers are cut as in the original: on a new session they give the context of
# earlier topics, and the full text of old answers is rarely worth its tokens.
REPLAYED_ANSWER_CHARS = 100


def window(
    messages: Sequence[BaseMessage], k: int, max_chars: int = WINDOW_MAX_CHARS
) -> list[BaseMessage]:
    """The last ``k`` exchanges of ``messages``, fewer if they exceed ``max_chars``."""
    if k <= 0:
        return []
    last_k = trim_messages(
        messages, max_tokens=2 * k, token_counter=len, strategy="last", start_on="human"
    )
    return trim_messages(
        last_k,
        max_tokens=max_chars,
        token_counter=lambda msgs: sum(len(m.text) for m in msgs),
        strategy="last",
        start_on="human",
    )


def is_conversational(dialog: Dialog) -> bool:
    """Whether a stored dialog belongs in the memory (rows of the original have no mode)."""
    mode = MODES.get(dialog.mode or DEFAULT_MODE)
    return (
        dialog.type == DialogType.TEXT
        and mode is not None
        and mode.uses_history
        and dialog.status == Status.COMPLETE
    )


def exchange(question: str, answer: str) -> list[BaseMessage]:
    return [HumanMessage(question), AIMessage(answer)]


def remember(memory: list[BaseMessage], dialog: Dialog) -> None:
    """Feed a finished turn to the memory, if it belongs to the conversation."""
    if is_conversational(dialog):
        memory.extend(exchange(dialog.body, dialog.msg))


def replayed_messages(dialogs: Iterable[Dialog]) -> list[BaseMessage]:
    """Memory seeded from stored dialogs: conversational ones only, answers shortened."""
    messages: list[BaseMessage] = []
    for dialog in dialogs:
        if is_conversational(dialog):
            messages += exchange(dialog.body, dialog.msg[:REPLAYED_ANSWER_CHARS])
    return messages
