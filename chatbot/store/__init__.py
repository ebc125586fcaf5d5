"""The dialog store: one protocol, a backend chosen by the settings."""

from __future__ import annotations

from pathlib import Path

from chatbot.config import Settings
from chatbot.store.base import Dialog, DialogStore, DialogType, Status, StoreError

__all__ = ["Dialog", "DialogStore", "DialogType", "Status", "StoreError", "open_store"]


def open_store(settings: Settings, *, background: bool = False) -> DialogStore:
    """DynamoDB when ``CHAT_HISTORY_TABLE`` is set, else SQLite at ``CHAT_HISTORY_DB``.

    DynamoDB's region comes from ``AWS_REGION`` or boto3's chain (``chatbot.aws.region``), not
    from ``BEDROCK_REGION``: the table and the model may live in different regions.
    ``background``: for the outbox's writer thread, whose calls no page waits on, so they may
    retry long; the pages' store gives up after one retry.
    """
    if settings.chat_history_table:
        from chatbot.store.dynamodb import DynamoStore  # boto3: only with a table

        return DynamoStore(
            settings.chat_history_table,
            patient=background,
            report_timezone=settings.report_timezone,
        )
    # Imported here like DynamoDB's: the SQLite store imports chatbot.rollups, which is built
    # on this package's base module.
    from chatbot.store.sqlite import SqliteStore

    return SqliteStore(
        Path(settings.chat_history_db).expanduser(), report_timezone=settings.report_timezone
    )
