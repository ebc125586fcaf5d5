"""The dialog store: one protocol, a backend chosen by the settings."""

from __future__ import annotations

from chatbot.config import Settings
from chatbot.store.base import Dialog, DialogStore, DialogType, Status, StoreError
from chatbot.store.sqlite import SqliteStore

__all__ = ["Dialog", "DialogStore", "DialogType", "Status", "StoreError", "open_store"]


def open_store(settings: Settings) -> DialogStore:
    """SQLite at ``CHAT_HISTORY_DB``: the embedded default."""
    return SqliteStore(settings.history_db_path)
