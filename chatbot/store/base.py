"""The dialog record and the protocol every store backend implements."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:  # the rollups are built on Dialog: imported for the protocol's types only
    from collections import Counter

    from chatbot.rollups import Cell, CellFilter, UserRollup


class Status(StrEnum):
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"  # the stream failed after part of the answer arrived
    ERROR = "error"  # no answer at all
    STOPPED = "stopped"  # the user pressed stop
    CUT = "cut"  # the model reached the output limit (stop reason max_tokens): Continue goes on


class FeedbackReason(StrEnum):
    """Why an answer disappointed, as the user may say with a 👎."""

    INACCURATE = "inaccurate"
    UNHELPFUL = "unhelpful"
    TOO_LONG = "too_long"
    WRONG_LANGUAGE = "wrong_language"
    UNSAFE = "unsafe"
    OTHER = "other"


class Rating(NamedTuple):
    """A user's rating of an answer: 👍 ("up"), 👎 ("down") with an optional reason and
    comment, or none (None: taken back)."""

    feedback: str | None
    reason: str | None = None
    comment: str | None = None


# The longest comment kept with a 👎.
MAX_COMMENT_CHARS = 1000


class DialogType(StrEnum):
    TEXT = "text"
    DOCUMENT = "document"


def new_request_id() -> str:
    return str(uuid.uuid4())


def format_request_time(at: datetime, request_id: str) -> str:
    """The sort key: UTC ISO 8601 with milliseconds, then part of the request id.

    The suffix makes two turns of one user in the same millisecond two keys, where the
    original's one-second key let the second overwrite the first.
    """
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
    return f"{stamp}Z#{request_id[:8]}"


def parse_request_time(value: str) -> datetime:
    """The UTC time of a sort key, also of the original's ``YYYY-MM-DD HH:MM:SS`` keys."""
    stamp = value.split("#", 1)[0].rstrip("Z").replace(" ", "T")
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC)


def time_key(at: datetime) -> str:
    """The timestamp part of the sort key of a turn made at ``at``."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def in_range(request_time: str, since_key: str, until_key: str | None = None) -> bool:
    """Whether a sort key falls in ``[since_key, until_key)``, both made by ``time_key``.

    A string comparison, cheap enough for 100,000 rows; keys of the original system
    (``2023-12-05 18:26:00``) are compared as if written in this app's format.
    """
    if request_time[10:11] == " ":
        request_time = f"{request_time[:10]}T{request_time[11:19]}.000Z"
    return since_key <= request_time and (until_key is None or request_time < until_key)


def key_bound(at: datetime) -> str:
    """A lower key bound that sorts before every key of ``at``'s day in either format.

    Keys of the original system (``2023-12-05 18:26:00``) and of this app
    (``2023-12-05T18:26:00.000Z#...``) differ after the date, so a range starts at the
    day and the exact time is filtered on the parsed value.
    """
    return at.astimezone(UTC).strftime("%Y-%m-%d")


class Dialog(NamedTuple):
    """One question and its answer: one DynamoDB item or one SQLite row.

    A named tuple rather than a dataclass: the History page builds 100,000 of them, and a
    tuple is built several times faster and goes into a DataFrame as it is.
    """

    user_id: str
    request_time: str
    request_id: str
    type: str
    body: str
    msg: str
    mode: str | None = None
    model_id: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    ttft_ms: int | None = None
    latency_ms: int | None = None
    status: str = Status.COMPLETE
    feedback: str | None = None
    session_id: str | None = None
    trimmed_chars: int | None = None  # characters cut from body and msg to fit MAX_DIALOG_BYTES
    # Of input_tokens, those read from Bedrock's prompt cache and those written to it; the
    # rest were billed at the full input price.
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    conversation_id: str | None = None  # None: a row of the original system or of 2026-11
    stop_reason: str | None = None  # Bedrock's: end_turn, max_tokens, ...
    # The request_id of the turn that replaced this one (regenerated, or its question edited):
    # kept for analysts, neither shown in its conversation nor sent in the memory.
    superseded_by: str | None = None
    feedback_reason: str | None = None  # with a 👎: a FeedbackReason, chosen by the user
    feedback_comment: str | None = None  # with a 👎: the user's words
    # A summarised file's text, for the follow-up questions of its conversation (its start,
    # at most chatbot.conversation.FILE_CONTEXT_CHARS).
    document_text: str | None = None
    cost_microusd: int | None = None  # what the answer cost, in millionths of a US dollar
    error_kind: str | None = None  # a failed call's chatbot.errors.Problem (error, incomplete)

    @property
    def day(self) -> str:
        """The UTC day, the partition of the by-day index: the key's date, in either format."""
        return self.request_time[:10]


FIELDS: tuple[str, ...] = Dialog._fields

# Dialogs written before conversations existed are grouped by the browser session that wrote
# them, or, for the original system's rows (no session), by UTC day; a name-based UUID makes
# that group's id the same wherever it is computed, and distinct per user.
_LEGACY_CONVERSATIONS = uuid.UUID("6f1d2c47-3f0e-4c55-9d6e-2b8f0a7c9e31")
TITLE_CHARS = 60


def legacy_conversation_id(user_id: str, session_id: str | None, day: str) -> str:
    """The conversation of a dialog written without one: its session's, else its day's."""
    group = f"session:{session_id}" if session_id else f"day:{day}"
    return str(uuid.uuid5(_LEGACY_CONVERSATIONS, f"{user_id}#{group}"))


def conversation_of(dialog: Dialog) -> str:
    """The dialog's conversation id: its own, or the one its session or day makes."""
    if dialog.conversation_id:
        return dialog.conversation_id
    return legacy_conversation_id(dialog.user_id, dialog.session_id, dialog.day)


def conversation_title(kind: str, body: str) -> str:
    """A conversation's title from its first question: one line, at most TITLE_CHARS."""
    line = " ".join(body.split())
    if len(line) > TITLE_CHARS:
        line = line[: TITLE_CHARS - 1].rstrip() + "…"
    return f"📎 {line}" if kind == DialogType.DOCUMENT else line


# A renamed conversation's title_time: before every request_time, so no dialog's question
# (written late, out of order) takes the title back.
RENAMED = "!"


class Conversation(NamedTuple):
    """One conversation of a user, as its list shows it."""

    user_id: str
    conversation_id: str
    title: str
    updated: str  # the request_time of its newest dialog

    @property
    def updated_at(self) -> datetime:
        return parse_request_time(self.updated)


class SearchResults(NamedTuple):
    """A search's matches, newest first; ``searched`` dialogs were read, and ``complete``
    says whether that was all of the user's (DynamoDB reads a bounded number)."""

    dialogs: list[Dialog]
    searched: int
    complete: bool


def search_terms(text: str) -> list[str]:
    """The words a search looks for (at most eight), each to be found somewhere."""
    return text.split()[:8]


class ConversationPage(NamedTuple):
    """A page of a user's conversations, newest first; ``cursor`` asks for the next page."""

    conversations: list[Conversation]
    cursor: str | None


@dataclass(frozen=True)
class ReadStats:
    """What a read cost: items returned and requests (DynamoDB query pages) made."""

    items: int
    pages: int


@dataclass(frozen=True)
class DialogQuery:
    """The analysts' table: dialogs with ``since <= time < until`` that pass ``filter``, of
    one user when ``user_id`` is set, holding every word of ``text`` when it is set."""

    since: datetime
    until: datetime
    filter: CellFilter
    user_id: str | None = None
    text: str = ""


class DialogPage(NamedTuple):
    """A page of the analysts' table, newest first, questions and answers cut to the
    requested length and ``document_text`` left out; ``cursor`` asks for the next page (None:
    no more); ``read`` items were read to fill it."""

    dialogs: list[Dialog]
    cursor: str | None
    read: int


class StoreError(Exception):
    """The store could not be read or written; ``__cause__`` holds the backend's error."""


class RejectedDialog(StoreError):
    """The store refused this dialog itself (validation, size): writing it again cannot help.

    Any other StoreError is taken as transient (an outage, throttling, missing permissions an
    administrator can grant), and the write is tried again later.
    """


class MissingDialog(StoreError):
    """No dialog of this user has this key (for example a rating of a deleted dialog)."""


class MissingConversation(StoreError):
    """The user has no conversation of this id (deleted, or not stored yet)."""


# DynamoDB's item limit is 400 KB, counted as the UTF-8 bytes of attribute names and values;
# taken as 400,000 bytes (as moto does), safe whichever kilobyte is meant. Every backend keeps
# a dialog within it, so the stores stay interchangeable.
DYNAMODB_ITEM_BYTES = 400_000
MAX_DIALOG_BYTES = DYNAMODB_ITEM_BYTES - 4_000  # room for the day attribute
_NUMBER_BYTES = 21  # DynamoDB's upper bound for a number attribute's value
TRIM_MARK = "\n\n[…]"


def dialog_bytes(dialog: Dialog) -> int:
    """The dialog's size by DynamoDB's rules (an upper bound for numbers)."""
    size = 0
    for name, value in zip(FIELDS, dialog, strict=True):
        if value is None:
            continue
        size += len(name) + (len(value.encode()) if isinstance(value, str) else _NUMBER_BYTES)
    return size


def _cut(text: str, max_bytes: int) -> tuple[str, int]:
    """``text`` within ``max_bytes`` of UTF-8 (mark included), cut on a character, and how
    many of its characters were cut."""
    if len(text.encode()) <= max_bytes:
        return text, 0
    room = max(0, max_bytes - len(TRIM_MARK.encode()))
    kept = text.encode()[:room].decode("utf-8", "ignore")
    return kept + TRIM_MARK, len(text) - len(kept)


def fit(dialog: Dialog) -> Dialog:
    """``dialog`` within MAX_DIALOG_BYTES: the answer, then the question, cut at the end
    with a mark, and ``trimmed_chars`` saying how much was cut. Unchanged when it fits."""
    excess = dialog_bytes(dialog) - MAX_DIALOG_BYTES
    if excess <= 0:
        return dialog
    excess += len("trimmed_chars") + _NUMBER_BYTES  # the flag is an attribute too
    room = max(0, len(dialog.body.encode()) + len(dialog.msg.encode()) - excess)
    # The question keeps up to half the room (it is usually short); the answer gets the rest.
    body, body_cut = _cut(dialog.body, max(room // 2, room - len(dialog.msg.encode())))
    msg, msg_cut = _cut(dialog.msg, room - len(body.encode()))
    trimmed = (dialog.trimmed_chars or 0) + body_cut + msg_cut
    return dialog._replace(body=body, msg=msg, trimmed_chars=trimmed)


class DialogStore(Protocol):
    """Where dialogs live. Reads return dialogs in ``request_time`` order, never truncated."""

    def put(self, dialog: Dialog) -> None:
        """Write a dialog and its conversation's summary (``conversation_of``: its newest
        time, the title from its earliest question unless renamed); writing the same dialog
        again, or dialogs out of order, gives the same result."""

    def user_dialogs(
        self, user_id: str, since: datetime, until: datetime | None = None
    ) -> list[Dialog]:
        """One user's dialogs with ``since <= time < until``."""

    def set_feedback(self, user_id: str, request_time: str, rating: Rating) -> None:
        """Record the user's rating of one answer (its reason and comment replaced too)."""

    def conversations(
        self, user_id: str, limit: int, cursor: str | None = None
    ) -> ConversationPage:
        """The user's conversations, newest first, ``limit`` at a time, read from their
        summaries (never from every dialog); ``cursor`` from the previous page."""

    def conversation_dialogs(self, user_id: str, conversation_id: str) -> list[Dialog]:
        """One conversation's dialogs, reading only them; empty if it is not the user's."""

    def search(self, user_id: str, text: str, limit: int) -> SearchResults:
        """The user's newest ``limit`` dialogs whose question or answer holds every word of
        ``text``, a word also inside a longer one (a Korean word with its particle)."""

    def rename_conversation(self, user_id: str, conversation_id: str, title: str) -> None:
        """Give a conversation a title of the user's; MissingConversation if there is none."""

    def delete_conversation(self, user_id: str, conversation_id: str) -> int:
        """Delete a conversation's dialogs and summary; how many dialogs."""

    def set_chat_start(self, user_id: str, at: datetime) -> None:
        """Remember that the user started a new chat at ``at``: replay begins there."""

    def chat_start(self, user_id: str) -> datetime | None:
        """When the user last started a new chat, if ever."""

    def dialog_page(
        self,
        query: DialogQuery,
        limit: int,
        cursor: str | None = None,
        text_chars: int | None = 120,
    ) -> DialogPage:
        """At most ``limit`` dialogs of ``query``, newest first, question and answer cut to
        ``text_chars`` characters (None: whole, with ``document_text``, for exports);
        ``cursor`` from the previous page. Reads about as many dialogs as it returns (by day,
        never a full scan), bounded when a filter is rare."""

    def dialog(self, user_id: str, request_time: str) -> Dialog | None:
        """One dialog, whole; None when there is none."""

    def rollup_cells(
        self, first_day: str, last_day: str
    ) -> tuple[dict[Cell, Counter[str]], ReadStats]:
        """The rollup cells of the days from ``first_day`` to ``last_day`` (reporting time
        zone, both included): exactly what ``chatbot.rollups.tally`` counts of their dialogs."""

    def rollup_users(self, first_day: str, last_day: str) -> tuple[list[UserRollup], ReadStats]:
        """The slices of those days merged per user, mode and model (``rollups.user_rollups``
        of the tally), users with no dialog left out."""

    def recount(self, first_day: str, last_day: str) -> int:
        """Rebuild those days' rollups from their dialogs; how many dialogs were counted."""

    def delete_user(self, user_id: str) -> int:
        """Delete every dialog of ``user_id``, waiting for each delete; the number deleted."""
