"""The dialog record and the protocol every store backend implements."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import NamedTuple, Protocol


class Status(StrEnum):
    COMPLETE = "complete"
    INCOMPLETE = "incomplete"  # the stream failed after part of the answer arrived
    ERROR = "error"  # no answer at all
    STOPPED = "stopped"  # the user pressed stop


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

    @property
    def day(self) -> str:
        """The UTC day, the partition of the by-day index: the key's date, in either format."""
        return self.request_time[:10]


FIELDS: tuple[str, ...] = Dialog._fields


@dataclass(frozen=True)
class ReadStats:
    """What a read cost: items returned and requests (DynamoDB query pages) made."""

    items: int
    pages: int


class StoreError(Exception):
    """The store could not be read or written; ``__cause__`` holds the backend's error."""


class RejectedDialog(StoreError):
    """The store refused this dialog itself (validation, size): writing it again cannot help.

    Any other StoreError is taken as transient (an outage, throttling, missing permissions an
    administrator can grant), and the write is tried again later.
    """


class MissingDialog(StoreError):
    """No dialog of this user has this key (for example a rating of a deleted dialog)."""


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
        """Write a dialog; writing the same dialog again is harmless."""

    def user_dialogs(
        self, user_id: str, since: datetime, until: datetime | None = None
    ) -> list[Dialog]:
        """One user's dialogs with ``since <= time < until``."""

    def set_feedback(self, user_id: str, request_time: str, feedback: str | None) -> None:
        """Record the user's rating of one answer."""

    def set_chat_start(self, user_id: str, at: datetime) -> None:
        """Remember that the user started a new chat at ``at``: replay begins there."""

    def chat_start(self, user_id: str) -> datetime | None:
        """When the user last started a new chat, if ever."""

    def browse(
        self, since: datetime, until: datetime, user_id: str | None = None
    ) -> tuple[list[Dialog], ReadStats]:
        """Dialogs with ``since <= time < until``: every user's (by day, never a full scan),
        or one user's when ``user_id`` is given. For the analysts' History page."""

    def delete_user(self, user_id: str) -> int:
        """Delete every dialog of ``user_id``, waiting for each delete; the number deleted."""
