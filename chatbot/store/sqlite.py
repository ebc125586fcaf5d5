"""The embedded store: one SQLite file in WAL mode, the default when no table is configured."""

from __future__ import annotations

import queue
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chatbot.store.base import (
    FIELDS,
    Dialog,
    MissingDialog,
    ReadStats,
    RejectedDialog,
    StoreError,
    in_range,
    key_bound,
    time_key,
)

# A rowid table, not WITHOUT ROWID: rows of a few KB are what rowid tables are for, and rows
# appended in time order make a day-range read through the index nearly sequential.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS dialogs (
    user_id TEXT NOT NULL,
    request_time TEXT NOT NULL,
    request_id TEXT NOT NULL,
    type TEXT NOT NULL,
    body TEXT NOT NULL,
    msg TEXT NOT NULL,
    mode TEXT,
    model_id TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    ttft_ms INTEGER,
    latency_ms INTEGER,
    status TEXT NOT NULL,
    feedback TEXT,
    session_id TEXT,
    trimmed_chars INTEGER,
    cache_read_tokens INTEGER,
    cache_write_tokens INTEGER,
    day TEXT NOT NULL,
    UNIQUE (user_id, request_time)
);
CREATE INDEX IF NOT EXISTS dialogs_by_day ON dialogs (day, request_time);
CREATE TABLE IF NOT EXISTS chat_starts (
    user_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL
) WITHOUT ROWID;
"""
_COLUMNS = ", ".join(FIELDS)
_UPSERT = (
    f"INSERT INTO dialogs ({_COLUMNS}, day) VALUES ({', '.join('?' * (len(FIELDS) + 1))}) "
    "ON CONFLICT (user_id, request_time) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in FIELDS[2:])
)


# Columns added since the first files were written, with their types: added on open.
_ADDED_COLUMNS = {
    "trimmed_chars": "INTEGER",
    "cache_read_tokens": "INTEGER",
    "cache_write_tokens": "INTEGER",
}


def _add_new_columns(db: sqlite3.Connection) -> None:
    """Bring a file written by an earlier version up to the current Dialog fields."""
    have = {row[1] for row in db.execute("PRAGMA table_info(dialogs)")}
    for name, kind in _ADDED_COLUMNS.items():
        if name not in have:
            db.execute(f"ALTER TABLE dialogs ADD COLUMN {name} {kind}")


# At most this many connections to the file, lent per operation. Streamlit runs every script
# run in a new thread, so a connection per thread stayed open after its thread ended. A fixed
# cap rather than closing connections beyond a few idle ones: in WAL mode every open
# connection holds a lock on the file, and SQLite keeps the descriptor of a connection closed
# meanwhile open (for reuse), so opening and closing under load would still leave them open.
_MAX_CONNECTIONS = 8
# Seconds to wait for a lock on the file, and for a free connection when all are lent.
_BUSY_TIMEOUT_S = 10.0


class SqliteStore:
    """Dialogs in a SQLite file; each operation borrows a connection from a small pool, and
    WAL lets readers and the writer proceed together."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        # Last in, first out: an open connection is lent before a slot not yet opened (None).
        self._pool: queue.LifoQueue[sqlite3.Connection | None] = queue.LifoQueue()
        for _ in range(_MAX_CONNECTIONS):
            self._pool.put(None)
        with self._connection() as db:
            db.executescript(_SCHEMA)
            _add_new_columns(db)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A connection for one operation, used by this thread alone until it returns."""
        try:
            db = self._pool.get(timeout=_BUSY_TIMEOUT_S)
        except queue.Empty:
            raise StoreError(
                f"SQLite store {self.path}: all {_MAX_CONNECTIONS} connections stayed busy for "
                f"{_BUSY_TIMEOUT_S:g} s"
            ) from None
        try:
            if db is None:
                db = self._open()
            with db:  # one transaction: committed on success, rolled back on error
                yield db
        except (sqlite3.Error, OSError) as error:
            raise StoreError(f"SQLite store {self.path}: {error}") from error
        finally:
            if db is not None and db.in_transaction:  # its rollback failed: not lent again
                db.close()
                db = None
            self._pool.put(db)

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Lent to one thread at a time, though not always to the thread that opened it.
        db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT_S, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            # Reads map the file instead of copying pages: about 15% off a History load.
            db.execute("PRAGMA mmap_size=1073741824")
        except sqlite3.Error:
            db.close()
            raise
        return db

    def put(self, dialog: Dialog) -> None:
        try:
            with self._connection() as db:
                db.execute(_UPSERT, [*dialog, dialog.day])
        except StoreError as error:
            # A constraint or a value SQLite cannot hold: the dialog itself is at fault.
            if isinstance(error.__cause__, sqlite3.IntegrityError | sqlite3.DataError):
                raise RejectedDialog(str(error)) from error.__cause__
            raise

    def user_dialogs(
        self, user_id: str, since: datetime, until: datetime | None = None
    ) -> list[Dialog]:
        with self._connection() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM dialogs WHERE user_id = ? AND request_time >= ? "
                "ORDER BY request_time",
                (user_id, key_bound(since)),
            ).fetchall()
        since_key, until_key = time_key(since), time_key(until) if until else None
        return [Dialog(*row) for row in rows if in_range(row[1], since_key, until_key)]

    def browse(
        self, since: datetime, until: datetime, user_id: str | None = None
    ) -> tuple[list[Dialog], ReadStats]:
        if user_id is None:
            # The index's own order (day is the key's first 10 characters): no sort of
            # 100,000 wide rows in a temporary B-tree.
            query = (
                f"SELECT {_COLUMNS} FROM dialogs WHERE day >= ? AND day <= ? "
                "ORDER BY day, request_time"
            )
            params: tuple[str, ...] = (key_bound(since), key_bound(until))
        else:
            query = (
                f"SELECT {_COLUMNS} FROM dialogs WHERE user_id = ? AND request_time >= ? "
                "AND request_time < ? ORDER BY request_time"
            )
            params = (user_id, key_bound(since), key_bound(until + timedelta(days=1)))
        with self._connection() as db:
            rows = db.execute(query, params).fetchall()
        since_key, until_key = time_key(since), time_key(until)
        dialogs = [Dialog(*row) for row in rows if in_range(row[1], since_key, until_key)]
        return dialogs, ReadStats(items=len(dialogs), pages=1)

    def delete_user(self, user_id: str) -> int:
        with self._connection() as db:
            deleted = db.execute("DELETE FROM dialogs WHERE user_id = ?", (user_id,)).rowcount
            db.execute("DELETE FROM chat_starts WHERE user_id = ?", (user_id,))
        return deleted

    def set_feedback(self, user_id: str, request_time: str, feedback: str | None) -> None:
        with self._connection() as db:
            updated = db.execute(
                "UPDATE dialogs SET feedback = ? WHERE user_id = ? AND request_time = ?",
                (feedback, user_id, request_time),
            ).rowcount
        if not updated:
            raise MissingDialog(f"SQLite store {self.path}: no dialog of this user to rate")

    def set_chat_start(self, user_id: str, at: datetime) -> None:
        with self._connection() as db:
            db.execute(
                "INSERT INTO chat_starts (user_id, started_at) VALUES (?, ?) "
                "ON CONFLICT (user_id) DO UPDATE SET started_at = excluded.started_at",
                (user_id, at.astimezone(UTC).isoformat()),
            )

    def chat_start(self, user_id: str) -> datetime | None:
        with self._connection() as db:
            row = db.execute(
                "SELECT started_at FROM chat_starts WHERE user_id = ?", (user_id,)
            ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None
