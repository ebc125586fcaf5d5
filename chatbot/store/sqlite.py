"""The embedded store: one SQLite file in WAL mode, the default when no table is configured."""

from __future__ import annotations

import json
import queue
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from chatbot.store.base import (
    FIELDS,
    RENAMED,
    Conversation,
    ConversationPage,
    Dialog,
    MissingConversation,
    MissingDialog,
    Rating,
    ReadStats,
    RejectedDialog,
    SearchResults,
    StoreError,
    conversation_of,
    conversation_title,
    in_range,
    key_bound,
    legacy_conversation_id,
    search_terms,
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
    conversation_id TEXT,
    stop_reason TEXT,
    superseded_by TEXT,
    feedback_reason TEXT,
    feedback_comment TEXT,
    document_text TEXT,
    cost_microusd INTEGER,
    error_kind TEXT,
    day TEXT NOT NULL,
    UNIQUE (user_id, request_time)
);
CREATE INDEX IF NOT EXISTS dialogs_by_day ON dialogs (day, request_time);
CREATE TABLE IF NOT EXISTS chat_starts (
    user_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL
) WITHOUT ROWID;
-- One summary row per conversation, kept by put(): the list reads these, not the dialogs.
CREATE TABLE IF NOT EXISTS conversations (
    user_id TEXT NOT NULL,
    conversation_id TEXT NOT NULL,
    title TEXT NOT NULL,
    title_time TEXT NOT NULL,  -- the request_time the title is from; '!' once renamed
    updated TEXT NOT NULL,
    PRIMARY KEY (user_id, conversation_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS conversations_by_updated
    ON conversations (user_id, updated, conversation_id);
"""
# Indexes on columns an older file gets only from _ADDED_COLUMNS: created after them.
_ADDED_INDEXES = """
CREATE INDEX IF NOT EXISTS dialogs_by_conversation
    ON dialogs (user_id, conversation_id, request_time);
"""
# Full-text search over questions and answers: FTS5's trigram tokenizer matches any run of
# three or more characters, so a Korean word is found inside a longer one (조사 attached,
# compounds) without a morphological analyser. The index reads its text from ``dialogs``
# (external content) and triggers keep it in step.
_TEXT_INDEX = """
CREATE VIRTUAL TABLE dialogs_text USING fts5(
    body, msg, content='dialogs', content_rowid='rowid', tokenize='trigram'
);
CREATE TRIGGER dialogs_text_insert AFTER INSERT ON dialogs BEGIN
    INSERT INTO dialogs_text (rowid, body, msg) VALUES (new.rowid, new.body, new.msg);
END;
CREATE TRIGGER dialogs_text_delete AFTER DELETE ON dialogs BEGIN
    INSERT INTO dialogs_text (dialogs_text, rowid, body, msg)
    VALUES ('delete', old.rowid, old.body, old.msg);
END;
CREATE TRIGGER dialogs_text_update AFTER UPDATE OF body, msg ON dialogs BEGIN
    INSERT INTO dialogs_text (dialogs_text, rowid, body, msg)
    VALUES ('delete', old.rowid, old.body, old.msg);
    INSERT INTO dialogs_text (rowid, body, msg) VALUES (new.rowid, new.body, new.msg);
END;
"""
_TRIGRAM = 3  # the shortest term the text index can look up
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
    "conversation_id": "TEXT",
    "stop_reason": "TEXT",
    "superseded_by": "TEXT",
    "feedback_reason": "TEXT",
    "feedback_comment": "TEXT",
    "document_text": "TEXT",
    "cost_microusd": "INTEGER",
    "error_kind": "TEXT",
}
# A conversation's summary row: a late or repeated write leaves the newest time and the
# title of the earliest question, unless the user renamed it.
_SUMMARY_UPSERT = """
INSERT INTO conversations (user_id, conversation_id, title, title_time, updated)
VALUES (?, ?, ?, ?, ?)
ON CONFLICT (user_id, conversation_id) DO UPDATE SET
    title = CASE WHEN excluded.title_time < title_time THEN excluded.title ELSE title END,
    title_time = min(title_time, excluded.title_time),
    updated = max(updated, excluded.updated)
"""
_CONVERSATION_COLUMNS = "user_id, conversation_id, title, updated"


def _add_new_columns(db: sqlite3.Connection) -> None:
    """Bring a file written by an earlier version up to the current Dialog fields."""
    have = {row[1] for row in db.execute("PRAGMA table_info(dialogs)")}
    for name, kind in _ADDED_COLUMNS.items():
        if name not in have:
            db.execute(f"ALTER TABLE dialogs ADD COLUMN {name} {kind}")
    db.executescript(_ADDED_INDEXES)
    if "conversation_id" not in have:
        _group_into_conversations(db)
    indexed = db.execute("SELECT 1 FROM sqlite_master WHERE name = 'dialogs_text'").fetchone()
    if not indexed:  # a new file, or one written before search: index what it holds
        db.executescript(_TEXT_INDEX)
        db.execute("INSERT INTO dialogs_text (dialogs_text) VALUES ('rebuild')")


def _group_into_conversations(db: sqlite3.Connection) -> None:
    """Once, for a file written before conversations: each dialog joins its session's (or
    day's) conversation, and each conversation gets its summary row."""
    db.create_function("legacy_conversation_id", 3, legacy_conversation_id, deterministic=True)
    db.create_function("conversation_title", 2, conversation_title, deterministic=True)
    db.execute(
        "UPDATE dialogs SET conversation_id = legacy_conversation_id(user_id, session_id, day) "
        "WHERE conversation_id IS NULL"
    )
    db.execute(
        "INSERT OR IGNORE INTO conversations (user_id, conversation_id, title, title_time, "
        "updated) SELECT user_id, conversation_id, '', min(request_time), max(request_time) "
        "FROM dialogs GROUP BY user_id, conversation_id"
    )
    db.execute(
        "UPDATE conversations SET title = (SELECT conversation_title(type, body) FROM dialogs "
        "WHERE dialogs.user_id = conversations.user_id "
        "AND dialogs.request_time = conversations.title_time) WHERE title = ''"
    )


# At most this many connections to the file, lent per operation. Streamlit runs every script
# run in a new thread, so a connection per thread stayed open after its thread ended. A fixed
# cap rather than closing connections beyond a few idle ones: in WAL mode every open
# connection holds a lock on the file, and SQLite keeps the descriptor of a connection closed
# meanwhile open (for reuse), so opening and closing under load would still leave them open.
_MAX_CONNECTIONS = 8
# Seconds to wait for a lock on the file, and for a free connection when all are lent.
_BUSY_TIMEOUT_S = 10.0


def _like_escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


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
        dialog = dialog._replace(conversation_id=conversation_of(dialog))
        title = conversation_title(dialog.type, dialog.body)
        summary = (dialog.user_id, dialog.conversation_id, title, dialog.request_time)
        try:
            with self._connection() as db:  # the dialog and its summary in one transaction
                db.execute(_UPSERT, [*dialog, dialog.day])
                db.execute(_SUMMARY_UPSERT, (*summary, dialog.request_time))
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
            db.execute("DELETE FROM conversations WHERE user_id = ?", (user_id,))
            db.execute("DELETE FROM chat_starts WHERE user_id = ?", (user_id,))
        return deleted

    def conversations(
        self, user_id: str, limit: int, cursor: str | None = None
    ) -> ConversationPage:
        where, params = "user_id = ?", [user_id]
        if cursor is not None:
            updated, conversation_id = json.loads(cursor)
            where += " AND (updated, conversation_id) < (?, ?)"
            params += [updated, conversation_id]
        with self._connection() as db:
            rows = db.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE {where} "
                "ORDER BY updated DESC, conversation_id DESC LIMIT ?",
                (*params, limit + 1),
            ).fetchall()
        page = [Conversation(*row) for row in rows[:limit]]
        more = len(rows) > limit
        last = page[-1] if page else None
        return ConversationPage(
            page, json.dumps([last.updated, last.conversation_id]) if more and last else None
        )

    def conversation_dialogs(self, user_id: str, conversation_id: str) -> list[Dialog]:
        with self._connection() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM dialogs WHERE user_id = ? AND conversation_id = ? "
                "ORDER BY request_time",
                (user_id, conversation_id),
            ).fetchall()
        return [Dialog(*row) for row in rows]

    def search(self, user_id: str, text: str, limit: int) -> SearchResults:
        terms = search_terms(text)
        if not terms:
            return SearchResults([], 0, complete=True)
        columns = ", ".join(f"d.{name}" for name in FIELDS)
        if all(len(term) >= _TRIGRAM for term in terms):
            # Each term a quoted string (quotes doubled): FTS5 syntax in the text means nothing.
            match = " AND ".join('"' + term.replace('"', '""') + '"' for term in terms)
            # The matches as a list probed while reading the user's rows newest first: a
            # join let the planner test MATCH row by row, 15 s for a rare word in 100,000.
            query = (
                f"SELECT {columns} FROM dialogs AS d WHERE d.rowid IN (SELECT rowid FROM "
                "dialogs_text WHERE dialogs_text MATCH ?) AND d.user_id = ? "
                "AND d.superseded_by IS NULL ORDER BY d.request_time DESC LIMIT ?"
            )
            params: tuple[object, ...] = (match, user_id, limit)
        else:  # a two-letter word (서울, 요금): too short for trigrams, so the user's rows
            like = " AND ".join("(d.body || ' ' || d.msg) LIKE ? ESCAPE '\\'" for _ in terms)
            query = (
                f"SELECT {columns} FROM dialogs AS d WHERE d.user_id = ? AND {like} "
                "AND d.superseded_by IS NULL ORDER BY d.request_time DESC LIMIT ?"
            )
            params = (user_id, *(f"%{_like_escaped(term)}%" for term in terms), limit)
        with self._connection() as db:
            rows = db.execute(query, params).fetchall()
        return SearchResults([Dialog(*row) for row in rows], len(rows), complete=True)

    def rename_conversation(self, user_id: str, conversation_id: str, title: str) -> None:
        with self._connection() as db:
            renamed = db.execute(
                "UPDATE conversations SET title = ?, title_time = ? "
                "WHERE user_id = ? AND conversation_id = ?",
                (title, RENAMED, user_id, conversation_id),
            ).rowcount
        if not renamed:
            raise MissingConversation(f"SQLite store {self.path}: no such conversation")

    def delete_conversation(self, user_id: str, conversation_id: str) -> int:
        key = (user_id, conversation_id)
        with self._connection() as db:
            deleted = db.execute(
                "DELETE FROM dialogs WHERE user_id = ? AND conversation_id = ?", key
            ).rowcount
            db.execute("DELETE FROM conversations WHERE user_id = ? AND conversation_id = ?", key)
        return deleted

    def set_feedback(self, user_id: str, request_time: str, rating: Rating) -> None:
        with self._connection() as db:
            updated = db.execute(
                "UPDATE dialogs SET feedback = ?, feedback_reason = ?, feedback_comment = ? "
                "WHERE user_id = ? AND request_time = ?",
                (*rating, user_id, request_time),
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
