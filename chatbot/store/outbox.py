"""Turns whose write failed, kept on local disk until the store takes them.

A failed write must not lose a dialog the user has already seen. The outbox is a small
SQLite file of its own, so it survives an app restart and works in front of either backend;
every page run drains it, so the turns reach the store as soon as it is back.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from pathlib import Path

from chatbot.errors import error_code
from chatbot.store.base import FIELDS, Dialog, DialogStore, StoreError

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    user_id TEXT NOT NULL,
    request_time TEXT NOT NULL,
    dialog TEXT NOT NULL,
    PRIMARY KEY (user_id, request_time)
)
"""


class Outbox:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # One connection for all sessions: writes here are rare and tiny.
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
            with self._db:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(_SCHEMA)
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"outbox {self.path}: {error}") from error

    def add(self, dialog: Dialog) -> None:
        """Keep ``dialog`` until ``drain`` writes it; adding it again keeps one copy."""
        record = json.dumps(dialog._asdict(), ensure_ascii=False)
        try:
            with self._lock, self._db:
                self._db.execute(
                    "INSERT OR REPLACE INTO pending VALUES (?, ?, ?)",
                    (dialog.user_id, dialog.request_time, record),
                )
        except sqlite3.Error as error:
            raise StoreError(f"outbox {self.path}: {error}") from error

    def pending(self, user_id: str | None = None) -> int:
        query, params = "SELECT count(*) FROM pending", ()
        if user_id is not None:
            query, params = query + " WHERE user_id = ?", (user_id,)
        with self._lock:
            return self._db.execute(query, params).fetchone()[0]

    def drain(self, store: DialogStore, limit: int = 200) -> int:
        """Write waiting dialogs, oldest first, until one fails; returns how many are left."""
        with self._lock:
            rows = self._db.execute(
                "SELECT dialog FROM pending ORDER BY request_time LIMIT ?", (limit,)
            ).fetchall()
        for (record,) in rows:
            values = json.loads(record)
            dialog = Dialog(**{name: values.get(name) for name in FIELDS})
            try:
                store.put(dialog)
            except Exception as error:  # still down: keep it and the rest for the next run
                log.warning("outbox: store still failing: %s", error_code(error))
                break
            with self._lock, self._db:
                self._db.execute(
                    "DELETE FROM pending WHERE user_id = ? AND request_time = ?",
                    (dialog.user_id, dialog.request_time),
                )
        return self.pending()
