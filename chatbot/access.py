"""Who may read and write which dialogs, enforced here rather than by hiding pages.

The pages never hand a user id to the store: they get a ``UserHistory`` scoped to the
signed-in identity, or an ``AnalystHistory`` that only an analyst can open.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import NamedTuple
from zoneinfo import ZoneInfo

from chatbot import rollups
from chatbot.identity import Identity
from chatbot.rollups import Cell, Tally, UserRollup
from chatbot.store.base import (
    Conversation,
    ConversationPage,
    Dialog,
    DialogPage,
    DialogQuery,
    DialogStore,
    Rating,
    ReadStats,
    SearchResults,
    StoreError,
    conversation_of,
    conversation_title,
    fit,
    in_range,
    key_bound,
    search_terms,
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

    def rate(self, request_time: str, rating: Rating) -> Saved:
        return self._outbox.rate(self.user_id, request_time, rating)

    def recent(self, since: datetime) -> list[Dialog]:
        self._check_store()
        stored = self._store.user_dialogs(self.user_id, since)
        since_key = time_key(since)
        queued = [
            dialog
            for dialog in self._outbox.pending_dialogs(self.user_id, key_bound(since))
            if in_range(dialog.request_time, since_key)
        ]
        return _merged(stored, queued)

    def conversations(self, limit: int, cursor: str | None = None) -> ConversationPage:
        """A page of the user's conversations, newest first; the first page also lists
        those whose dialogs are still queued, so a conversation shows before it is stored."""
        self._check_store()
        page = self._store.conversations(self.user_id, limit, cursor)
        if cursor is not None:
            return page
        listed = {c.conversation_id: c for c in page.conversations}
        for dialog in self._outbox.pending_dialogs(self.user_id):
            conversation_id = conversation_of(dialog)
            known = listed.get(conversation_id)
            if known is None:
                title = conversation_title(dialog.type, dialog.body)
                listed[conversation_id] = Conversation(
                    self.user_id, conversation_id, title, dialog.request_time
                )
            elif known.updated < dialog.request_time:
                listed[conversation_id] = known._replace(updated=dialog.request_time)
        newest = sorted(listed.values(), key=lambda c: (c.updated, c.conversation_id))
        return ConversationPage(newest[::-1], page.cursor)

    def conversation(self, conversation_id: str) -> list[Dialog]:
        """A conversation's dialogs, queued ones included, in time order."""
        self._check_store()
        stored = self._store.conversation_dialogs(self.user_id, conversation_id)
        queued = [
            dialog
            for dialog in self._outbox.pending_dialogs(self.user_id)
            if conversation_of(dialog) == conversation_id
        ]
        return _merged(stored, queued)

    def search(self, text: str, limit: int) -> SearchResults:
        """The user's dialogs holding every word of ``text``, newest first; queued ones too."""
        self._check_store()
        results = self._store.search(self.user_id, text, limit)
        words = [word.casefold() for word in search_terms(text)]
        queued = [
            dialog
            for dialog in self._outbox.pending_dialogs(self.user_id)
            if not dialog.superseded_by
            and all(word in f"{dialog.body} {dialog.msg}".casefold() for word in words)
        ]
        if not queued:
            return results
        newest = _merged(results.dialogs, queued)[::-1][:limit]
        return results._replace(dialogs=newest)

    def rename_conversation(self, conversation_id: str, title: str) -> None:
        self._store.rename_conversation(self.user_id, conversation_id, title)

    def delete_conversation(self, conversation_id: str) -> int:
        """Its dialogs, queued ones included; how many were deleted."""
        queued = self._outbox.delete_conversation(self.user_id, conversation_id)
        return queued + self._store.delete_conversation(self.user_id, conversation_id)

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


def _merged(stored: list[Dialog], queued: list[Dialog]) -> list[Dialog]:
    """Stored and queued dialogs in time order; a queued copy is the newer one."""
    if not queued:
        return stored
    merged = {dialog.request_time: dialog for dialog in stored}
    merged.update((dialog.request_time, dialog) for dialog in queued)
    return [merged[key] for key in sorted(merged)]


class AnalystHistory:
    """Every user's dialogs and their rollups, for analysts only.

    Days are ``YYYY-MM-DD`` in the reporting time zone (``CHAT_REPORT_TIMEZONE``), the
    rollups' days; the page never reads a whole range of dialogs through it.
    """

    def __init__(
        self,
        store: DialogStore,
        identity: Identity,
        *,
        report_timezone: ZoneInfo = ZoneInfo(rollups.DEFAULT_REPORT_TIMEZONE),  # noqa: B008
    ) -> None:
        if not identity.analyst:
            raise AccessDenied(f"{identity.user_id} is not an analyst")
        self._store = store
        self.report_timezone = report_timezone

    def cells(self, first: str, last: str) -> tuple[dict[Cell, Counter[str]], ReadStats]:
        return self._store.rollup_cells(first, last)

    def users(self, first: str, last: str) -> tuple[list[UserRollup], ReadStats]:
        return self._store.rollup_users(first, last)

    def page(
        self,
        query: DialogQuery,
        limit: int,
        cursor: str | None = None,
        text_chars: int | None = 120,
    ) -> DialogPage:
        return self._store.dialog_page(query, limit, cursor, text_chars)

    def dialog(self, user_id: str, request_time: str) -> Dialog | None:
        return self._store.dialog(user_id, request_time)

    def conversation(self, user_id: str, conversation_id: str) -> list[Dialog]:
        return self._store.conversation_dialogs(user_id, conversation_id)

    def user_tally(self, user_id: str, first: str, last: str) -> tuple[Tally, ReadStats]:
        """One user's rollups of those days, counted from their dialogs: a user has no
        rollups of their own, and one user's dialogs are few enough to read."""
        since, until = rollups.day_bounds(first, last, self.report_timezone)
        dialogs = self._store.user_dialogs(user_id, since, until)
        return rollups.tally(dialogs, self.report_timezone), ReadStats(len(dialogs), pages=1)
