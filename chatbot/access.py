"""Who may read and write which dialogs, enforced here rather than by hiding pages.

The pages never hand a user id to the store: they get a ``UserHistory`` scoped to the
signed-in identity, or an ``AnalystHistory`` that only an analyst can open.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

from chatbot.identity import Identity
from chatbot.store.base import (
    Dialog,
    DialogStore,
    ReadStats,
    StoreError,
    fit,
    in_range,
    key_bound,
    time_key,
)
from chatbot.store.outbox import Outbox, Saved


class AccessDenied(PermissionError):
    """The identity may not do this."""


class Receipt(NamedTuple):
    """A saved dialog as the store keeps it (maybe trimmed to fit), and where it went."""

    dialog: Dialog
    saved: Saved


class UserHistory:
    """One identity's own dialogs; every call is scoped to that identity.

    Writes go through the outbox, which queues what the store cannot take yet; reads merge
    the queued dialogs in, so a reload shows a dialog before the store has it. While the
    outbox knows the store is down, reads fail at once instead of waiting out its retries.
    """

    def __init__(self, store: DialogStore, identity: Identity, outbox: Outbox) -> None:
        self._store = store
        self._outbox = outbox
        self.identity = identity

    @property
    def user_id(self) -> str:
        return self.identity.user_id

    def save(self, dialog: Dialog) -> Receipt:
        if dialog.user_id != self.user_id:
            raise AccessDenied(f"{self.user_id} cannot write a dialog of another user")
        kept = fit(dialog)
        return Receipt(kept, self._outbox.save(kept))

    def rate(self, request_time: str, feedback: str | None) -> Saved:
        return self._outbox.rate(self.user_id, request_time, feedback)

    def recent(self, since: datetime) -> list[Dialog]:
        self._check_store()
        stored = self._store.user_dialogs(self.user_id, since)
        since_key = time_key(since)
        queued = [
            dialog
            for dialog in self._outbox.pending_dialogs(self.user_id, key_bound(since))
            if in_range(dialog.request_time, since_key)
        ]
        if not queued:
            return stored
        merged = {dialog.request_time: dialog for dialog in stored}
        merged.update((dialog.request_time, dialog) for dialog in queued)  # the newer copy
        return [merged[key] for key in sorted(merged)]

    def set_chat_start(self, at: datetime) -> None:
        self._check_store()
        self._store.set_chat_start(self.user_id, at)

    def chat_start(self) -> datetime | None:
        self._check_store()
        return self._store.chat_start(self.user_id)

    def pending(self) -> int:
        """This user's dialogs still waiting for the store."""
        return self._outbox.pending(self.user_id)

    def take_rejections(self) -> int:
        """This user's dialogs the store refused since they were last told."""
        return self._outbox.take_rejections(self.user_id)

    def delete_all(self) -> int:
        """Every dialog of the user, queued ones included; how many were deleted."""
        return self._outbox.delete_user(self.user_id) + self._store.delete_user(self.user_id)

    def _check_store(self) -> None:
        if self._outbox.store_down:
            raise StoreError("the store is failing; not read until the outbox reaches it again")


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
