"""Who may read and write which dialogs, enforced here rather than by hiding pages.

The pages never hand a user id to the store: they get a ``UserHistory`` scoped to the
signed-in identity, or an ``AnalystHistory`` that only an analyst can open.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from chatbot.store.base import Dialog, DialogStore, ReadStats


class AccessDenied(PermissionError):
    """The identity may not do this."""


@dataclass(frozen=True)
class Identity:
    user_id: str
    analyst: bool


class UserHistory:
    """One identity's own dialogs; every call is scoped to that identity."""

    def __init__(self, store: DialogStore, identity: Identity) -> None:
        self._store = store
        self.identity = identity

    @property
    def user_id(self) -> str:
        return self.identity.user_id

    def put(self, dialog: Dialog) -> None:
        if dialog.user_id != self.user_id:
            raise AccessDenied(f"{self.user_id} cannot write a dialog of another user")
        self._store.put(dialog)

    def recent(self, since: datetime) -> list[Dialog]:
        return self._store.user_dialogs(self.user_id, since)

    def set_feedback(self, request_time: str, feedback: str | None) -> None:
        self._store.set_feedback(self.user_id, request_time, feedback)

    def set_chat_start(self, at: datetime) -> None:
        self._store.set_chat_start(self.user_id, at)

    def chat_start(self) -> datetime | None:
        return self._store.chat_start(self.user_id)

    def delete_all(self) -> int:
        return self._store.delete_user(self.user_id)


class AnalystHistory:
    """Every user's dialogs, for analysts only."""

    def __init__(self, store: DialogStore, identity: Identity) -> None:
        if not identity.analyst:
            raise AccessDenied(f"{identity.user_id} is not an analyst")
        self._store = store

    def browse(
        self, since: datetime, until: datetime, user_id: str | None = None
    ) -> tuple[list[Dialog], ReadStats]:
        return self._store.browse(since, until, user_id=user_id)
