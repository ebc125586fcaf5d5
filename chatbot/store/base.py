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

    @property
    def created(self) -> datetime:
        return parse_request_time(self.request_time)

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
