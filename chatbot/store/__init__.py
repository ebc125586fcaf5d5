"""The dialog store: one protocol, a backend chosen by the settings."""

from __future__ import annotations

from pathlib import Path

from chatbot.config import Settings
from chatbot.store.base import Dialog, DialogStore, DialogType, Status, StoreError
from chatbot.store.dynamodb import DynamoStore
from chatbot.store.sqlite import SqliteStore

__all__ = ["Dialog", "DialogStore", "DialogType", "Status", "StoreError", "open_store"]


def open_store(settings: Settings) -> DialogStore:
    """DynamoDB when ``CHAT_HISTORY_TABLE`` is set, else SQLite at ``CHAT_HISTORY_DB``.

    DynamoDB's region comes from boto3's chain (``AWS_REGION``), not ``BEDROCK_REGION``: the
    table and the model may live in different regions.
    """
    if settings.chat_history_table:
        return DynamoStore(settings.chat_history_table, region=None)
    return SqliteStore(Path(settings.chat_history_db).expanduser())
