"""The embedded store: one SQLite file in WAL mode, the default when no table is configured."""

from __future__ import annotations

import json
import queue
import sqlite3
from collections import Counter
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from chatbot import rollups
from chatbot.rollups import Cell, CellFilter, Slice, UserRollup
from chatbot.store.base import (
    FIELDS,
    RENAMED,
    Conversation,
    ConversationPage,
    Dialog,
    DialogPage,
    DialogQuery,
    MissingConversation,
    MissingDialog,
    Rating,
    ReadStats,
    RejectedDialog,
    SearchResults,
    Status,
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
-- The analysts' table filtered on a rating or on an outcome other than complete: the few
-- dialogs that have one, in the by-day index's order (a rare combination, 👎 in one mode,
-- read 100,000 rows of a month through that index to fill a page).
CREATE INDEX IF NOT EXISTS dialogs_by_feedback ON dialogs (feedback, day, request_time)
    WHERE feedback IS NOT NULL;
CREATE INDEX IF NOT EXISTS dialogs_by_outcome ON dialogs (status, day, request_time)
    WHERE status <> 'complete';
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
# The columns with question and answer cut to a length (two parameters) and no document text.
_CUT = {"body": "substr(body, 1, ?)", "msg": "substr(msg, 1, ?)", "document_text": "NULL"}
_CUT_COLUMNS = ", ".join(_CUT.get(name, name) for name in FIELDS)
# A row's key as this app writes them: keys of the original system (2023-12-05 18:26:00)
# rewritten (as base.in_range does), so a time bound is exact on either.
_KEY = (
    "(CASE WHEN substr(request_time, 11, 1) = ' ' THEN substr(request_time, 1, 10) || 'T' "
    "|| substr(request_time, 12, 8) || '.000Z' ELSE request_time END)"
)
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
# The columns a rollup needs: all but the document's text.
_ROLLUP_COLUMNS = ", ".join("NULL" if name == "document_text" else name for name in FIELDS)

# Daily rollups (chatbot.rollups), kept by every write in its transaction. Their reads are
# bounded by the output: a month at 1,000,000 dialogs is ~10,000 cells holding ~400,000
# counters, and ~300,000 slices summed into ~30,000 rows of the per-user table.
# - A cell's counters are one JSON object: a row per counter made 400,000 rows to read.
# - A slice's counters are columns summed by SQL, grouped on a number that stands for the
#   user, mode and model (rollup_slice_keys): three strings made the grouping three times
#   slower. The conversations it has dialogs of are kept per conversation with their number
#   of dialogs (rollup_conversations: a conversation leaves when it has none left), and, for
#   the reads, as one string in the slice's row: a second grouping of 400,000 rows cost more
#   than the rest of the read.
_CELL = "day, mode, model_id, status, type, feedback, lang"
_SLICE_COUNTERS = rollups.SLICE_COUNTERS
_ROLLUP_TABLES = {
    "rollup_cells": f"""
CREATE TABLE rollup_cells (
    day TEXT NOT NULL, mode TEXT NOT NULL, model_id TEXT NOT NULL, status TEXT NOT NULL,
    type TEXT NOT NULL, feedback TEXT NOT NULL, lang TEXT NOT NULL,
    counts TEXT NOT NULL,  -- JSON: {{counter name: value}}, nonzero values only
    PRIMARY KEY ({_CELL})
)""",
    "rollup_slice_keys": """
CREATE TABLE rollup_slice_keys (
    slice_key INTEGER PRIMARY KEY,
    user_id TEXT NOT NULL, mode TEXT NOT NULL, model_id TEXT NOT NULL,
    UNIQUE (user_id, mode, model_id)
)""",
    "rollup_slices": f"""
CREATE TABLE rollup_slices (
    day TEXT NOT NULL, slice_key INTEGER NOT NULL,
    {", ".join(f"{name} INTEGER NOT NULL" for name in _SLICE_COUNTERS)},
    conversations TEXT NOT NULL DEFAULT '',  -- their ids, escaped by _ESCAPED_ID, ' ' between
    PRIMARY KEY (day, slice_key)
) WITHOUT ROWID""",
    "rollup_conversations": """
CREATE TABLE rollup_conversations (
    day TEXT NOT NULL, slice_key INTEGER NOT NULL, conversation_id TEXT NOT NULL,
    dialogs INTEGER NOT NULL,
    PRIMARY KEY (day, slice_key, conversation_id)
) WITHOUT ROWID""",
}
_DAY_TABLES = ("rollup_cells", "rollup_slices", "rollup_conversations")
# Bumped when the tables above change: a file counted under another layout is counted again.
_ROLLUP_LAYOUT = "1:" + ",".join(_SLICE_COUNTERS)
_META = "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID"
_CELL_WHERE = " AND ".join(f"{name} = ?" for name in _CELL.split(", "))
_CELL_UPSERT = (
    f"INSERT INTO rollup_cells ({_CELL}, counts) VALUES ({', '.join('?' * 8)}) "
    f"ON CONFLICT ({_CELL}) DO UPDATE SET counts = excluded.counts"
)
_SLICE_ADD = (
    f"INSERT INTO rollup_slices (day, slice_key, {', '.join(_SLICE_COUNTERS)}) "
    f"VALUES ({', '.join('?' * (2 + len(_SLICE_COUNTERS)))}) "
    "ON CONFLICT (day, slice_key) DO UPDATE SET "
    + ", ".join(f"{name} = {name} + excluded.{name}" for name in _SLICE_COUNTERS)
)
_CONVERSATION_ADD = (
    "INSERT INTO rollup_conversations (day, slice_key, conversation_id, dialogs) "
    "VALUES (?, ?, ?, ?) ON CONFLICT (day, slice_key, conversation_id) "
    "DO UPDATE SET dialogs = dialogs + excluded.dialogs"
)
_CONVERSATION_EMPTIED = (
    "DELETE FROM rollup_conversations WHERE day = ? AND slice_key = ? AND conversation_id = ? "
    "AND dialogs <= 0"
)
# A conversation id as the slices' lists hold it: '%' and ' ' written as URL escapes, so any
# id splits back whole, and ids without them (all the app makes) are read as they are.
_ESCAPED_ID = "replace(replace(conversation_id, '%', '%25'), ' ', '%20')"
_SLICE_CONVERSATIONS = (
    "UPDATE rollup_slices SET conversations = ("
    f"SELECT group_concat({_ESCAPED_ID}, ' ') FROM rollup_conversations AS c "
    "WHERE c.day = rollup_slices.day AND c.slice_key = rollup_slices.slice_key) "
    "WHERE day = ? AND slice_key = ?"
)
# A slice without dialogs holds nothing else (its counters count dialogs).
_SLICE_EMPTIED = "DELETE FROM rollup_slices WHERE day = ? AND slice_key = ? AND dialogs <= 0"
_USER_ROLLUPS = f"""
SELECT user_id, mode, model_id, last_day, {", ".join(_SLICE_COUNTERS)}, conversations
FROM (
    SELECT slice_key, max(day) AS last_day,
        {", ".join(f"sum({name}) AS {name}" for name in _SLICE_COUNTERS)},
        group_concat(conversations, ' ') AS conversations
    FROM rollup_slices WHERE day >= ? AND day <= ? GROUP BY slice_key
) JOIN rollup_slice_keys USING (slice_key)
ORDER BY user_id, mode, model_id
"""
# Rows read at a time when a day's dialogs are counted again.
_RECOUNT_CHUNK = 5000


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
# Transactions that read and then write take the write lock first: a deferred one that had
# read would fail (SQLITE_BUSY) when another connection wrote meanwhile.
_WRITE = "BEGIN IMMEDIATE"
_READ = "BEGIN"


def _like_escaped(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _text_sql(terms: list[str]) -> tuple[str, list[str]]:
    """A condition that a dialog's question or answer holds every term, and its parameters."""
    if all(len(term) >= _TRIGRAM for term in terms):
        # Each term a quoted string (quotes doubled): FTS5 syntax in the text means nothing.
        match = " AND ".join('"' + term.replace('"', '""') + '"' for term in terms)
        # The matches as a list probed while reading rows in index order: a join let the
        # planner test MATCH row by row, 15 s for a rare word in 100,000.
        return "rowid IN (SELECT rowid FROM dialogs_text WHERE dialogs_text MATCH ?)", [match]
    # A two-letter word (서울, 요금): too short for trigrams, so the rows are read.
    like = " AND ".join("(body || ' ' || msg) LIKE ? ESCAPE '\\'" for _ in terms)
    return like, [f"%{_like_escaped(term)}%" for term in terms]


class _Changes:
    """Rollup deltas summed per key, to be written in one go."""

    def __init__(self) -> None:
        self.cells: dict[Cell, Counter[str]] = {}
        self.slices: dict[Slice, Counter[str]] = {}
        self.conversations: Counter[tuple[Slice, str]] = Counter()  # dialogs gained or lost

    def add(self, delta: rollups.Delta) -> None:
        for cell, counts in delta.cells.items():
            self.cells.setdefault(cell, Counter()).update(counts)
        for key, counts in delta.slices.items():
            self.slices.setdefault(key, Counter()).update(counts)
        for key, conversation_id in delta.joined.items():
            self.conversations[key, conversation_id] += 1
        for key, conversation_id in delta.left.items():
            self.conversations[key, conversation_id] -= 1

    def apply(self, db: sqlite3.Connection) -> None:
        """Add the changes to the rollup tables, in the caller's transaction."""
        for cell, counts in self.cells.items():
            row = db.execute(
                f"SELECT counts FROM rollup_cells WHERE {_CELL_WHERE}", cell
            ).fetchone()
            total = Counter(json.loads(row[0]) if row else {})
            total.update(counts)
            kept = {name: value for name, value in total.items() if value}
            if kept.get(rollups.DIALOGS, 0) > 0:
                db.execute(_CELL_UPSERT, (*cell, json.dumps(kept, separators=(",", ":"))))
            elif row:
                db.execute(f"DELETE FROM rollup_cells WHERE {_CELL_WHERE}", cell)
        keys = _slice_keys(db, {*self.slices, *(key for key, _ in self.conversations)})
        db.executemany(
            _SLICE_ADD,
            (
                (key.day, keys[key], *(counts[name] for name in _SLICE_COUNTERS))
                for key, counts in self.slices.items()
            ),
        )
        conversations = [
            (key.day, keys[key], conversation_id, n)
            for (key, conversation_id), n in self.conversations.items()
            if n
        ]
        db.executemany(_CONVERSATION_ADD, conversations)
        db.executemany(_CONVERSATION_EMPTIED, (row[:3] for row in conversations))
        touched = [(key.day, number) for key, number in keys.items()]
        db.executemany(_SLICE_EMPTIED, touched)
        db.executemany(_SLICE_CONVERSATIONS, touched)


def _slice_keys(db: sqlite3.Connection, slices: Iterable[Slice]) -> dict[Slice, int]:
    """The number of each slice's user, mode and model, given one if it has none yet."""
    numbers: dict[tuple[str, str, str], int] = {}
    keys: dict[Slice, int] = {}
    for key in slices:
        who = (key.user_id, key.mode, key.model_id)
        if who not in numbers:
            row = (
                db.execute(
                    "SELECT slice_key FROM rollup_slice_keys "
                    "WHERE user_id = ? AND mode = ? AND model_id = ?",
                    who,
                ).fetchone()
                or db.execute(
                    "INSERT INTO rollup_slice_keys (user_id, mode, model_id) VALUES (?, ?, ?) "
                    "RETURNING slice_key",
                    who,
                ).fetchone()
            )
            numbers[who] = row[0]
        keys[key] = numbers[who]
    return keys


def _dialog(db: sqlite3.Connection, user_id: str, request_time: str) -> Dialog | None:
    row = db.execute(
        f"SELECT {_COLUMNS} FROM dialogs WHERE user_id = ? AND request_time = ?",
        (user_id, request_time),
    ).fetchone()
    return Dialog(*row) if row else None


# The columns a CellFilter looks at, in its order, and the value rollups.contribution gives a
# dialog without one (None: the column always has one).
_DIMENSIONS = (
    ("mode", "normal"),
    ("model_id", ""),
    ("status", None),
    ("type", None),
    ("feedback", ""),
)


def _filter_sql(wanted: CellFilter, cells: bool = False) -> tuple[list[str], list[str]]:
    """Conditions that ``wanted`` makes on the dialogs (``cells``: on the rollup cells, whose
    columns hold the values as they are), and their parameters."""
    where: list[str] = []
    params: list[str] = []
    for (column, default), values in zip(
        _DIMENSIONS,
        (wanted.modes, wanted.models, wanted.statuses, wanted.types, wanted.feedbacks),
        strict=True,
    ):
        if not values:
            continue
        marks = ", ".join("?" * len(values))
        if cells or default is None or default not in values:
            # A plain condition: it lets SQLite use an index on the column.
            where.append(f"{column} IN ({marks})")
        else:  # the dialogs without a value are wanted too ('' counts as none, as in Python)
            where.append(f"coalesce(nullif({column}, ''), ?) IN ({marks})")
            params.append(default)
        params += values
    return where, params


def _table_index(wanted: CellFilter) -> tuple[str, list[str]]:
    """The index the analysts' table reads by, and the condition that lets SQLite use it (a
    partial index serves a query that states its condition)."""
    if len(wanted.feedbacks) == 1 and wanted.feedbacks[0]:
        return "dialogs_by_feedback", []  # "feedback IN (...)" implies it is not NULL
    if len(wanted.statuses) == 1 and wanted.statuses[0] != Status.COMPLETE:
        return "dialogs_by_outcome", ["status <> 'complete'"]
    return "dialogs_by_day", []


class SqliteStore:
    """Dialogs in a SQLite file; each operation borrows a connection from a small pool, and
    WAL lets readers and the writer proceed together."""

    def __init__(
        self,
        path: str | Path,
        *,
        report_timezone: ZoneInfo = ZoneInfo(rollups.DEFAULT_REPORT_TIMEZONE),  # noqa: B008
    ) -> None:
        """``report_timezone``: the days of the rollups."""
        self.path = Path(path)
        self.report_timezone = report_timezone
        # Last in, first out: an open connection is lent before a slot not yet opened (None).
        self._pool: queue.LifoQueue[sqlite3.Connection | None] = queue.LifoQueue()
        for _ in range(_MAX_CONNECTIONS):
            self._pool.put(None)
        with self._connection() as db:
            db.executescript(_SCHEMA)
            _add_new_columns(db)
        with self._connection(_WRITE) as db:
            self._prepare_rollups(db)

    def _prepare_rollups(self, db: sqlite3.Connection) -> None:
        """Create the rollup tables, and count every day the file holds when they are new in
        it (an upgrade) or were counted in another time zone or layout."""
        db.execute(_META)
        wanted = {"report_timezone": str(self.report_timezone), "rollup_layout": _ROLLUP_LAYOUT}
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        if dict(db.execute("SELECT name, value FROM meta")) == wanted and tables >= set(
            _ROLLUP_TABLES
        ):
            return
        for name, create in _ROLLUP_TABLES.items():
            db.execute(f"DROP TABLE IF EXISTS {name}")
            db.execute(create)
        first, last = db.execute("SELECT min(day), max(day) FROM dialogs").fetchone()
        if first is not None:  # UTC days: their instants fall on the report days around them
            day = timedelta(days=1)
            self._recount(
                db,
                (datetime.fromisoformat(first) - day).date().isoformat(),
                (datetime.fromisoformat(last) + day).date().isoformat(),
            )
        db.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", wanted.items())

    @contextmanager
    def _connection(self, begin: str | None = None) -> Iterator[sqlite3.Connection]:
        """A connection for one operation, used by this thread alone until it returns.

        ``begin``: the statement that opens its transaction first (``_WRITE`` to read then
        write, ``_READ`` for several reads of one snapshot); else each statement's own.
        """
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
                if begin:
                    db.execute(begin)
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
            # The dialog, its summary and the rollups in one transaction.
            with self._connection(_WRITE) as db:
                old = _dialog(db, dialog.user_id, dialog.request_time)
                db.execute(_UPSERT, [*dialog, dialog.day])
                db.execute(_SUMMARY_UPSERT, (*summary, dialog.request_time))
                if old != dialog:  # not a replay
                    self._apply(db, [rollups.delta(old, dialog, self.report_timezone)])
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

    def delete_user(self, user_id: str) -> int:
        with self._connection(_WRITE) as db:
            self._take_away(db, "user_id = ?", (user_id,))
            deleted = db.execute("DELETE FROM dialogs WHERE user_id = ?", (user_id,)).rowcount
            # Their slices are gone with their dialogs: nothing of theirs stays.
            db.execute("DELETE FROM rollup_slice_keys WHERE user_id = ?", (user_id,))
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
        match, params = _text_sql(terms)
        with self._connection() as db:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM dialogs WHERE {match} AND user_id = ? "
                "AND superseded_by IS NULL ORDER BY request_time DESC LIMIT ?",
                (*params, user_id, limit),
            ).fetchall()
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
        with self._connection(_WRITE) as db:
            self._take_away(db, "user_id = ? AND conversation_id = ?", key)
            deleted = db.execute(
                "DELETE FROM dialogs WHERE user_id = ? AND conversation_id = ?", key
            ).rowcount
            db.execute("DELETE FROM conversations WHERE user_id = ? AND conversation_id = ?", key)
        return deleted

    def set_feedback(self, user_id: str, request_time: str, rating: Rating) -> None:
        with self._connection(_WRITE) as db:
            old = _dialog(db, user_id, request_time)
            if old is None:
                raise MissingDialog(f"SQLite store {self.path}: no dialog of this user to rate")
            db.execute(
                "UPDATE dialogs SET feedback = ?, feedback_reason = ?, feedback_comment = ? "
                "WHERE user_id = ? AND request_time = ?",
                (*rating, user_id, request_time),
            )
            new = old._replace(
                feedback=rating.feedback,
                feedback_reason=rating.reason,
                feedback_comment=rating.comment,
            )
            self._apply(db, [rollups.delta(old, new, self.report_timezone)])

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

    def dialog_page(
        self,
        query: DialogQuery,
        limit: int,
        cursor: str | None = None,
        text_chars: int | None = 120,
    ) -> DialogPage:
        with self._connection(_READ) as db:  # the cells and the dialogs of one snapshot
            bounds = self._matching_bounds(db, query)
            if bounds is None:
                return DialogPage([], None, read=0)
            since, until = bounds
            where, params = _filter_sql(query.filter)
            where += [f"{_KEY} >= ?", f"{_KEY} < ?"]
            params += [time_key(since), time_key(until)]
            # Keyset paging: each page seeks to where the last one ended (the bound below
            # the cursor is the index's range, a condition beside it would be a filter).
            after = json.loads(cursor) if cursor is not None else None
            if query.user_id is not None:
                # The (user_id, request_time) index, newest first; a key is unique per user.
                below = key_bound(until + timedelta(days=1))
                where += ["user_id = ?", "request_time >= ?", "request_time < ?"]
                params += [
                    query.user_id,
                    key_bound(since),
                    min(below, after[0]) if after else below,
                ]
                order = "request_time DESC"
                index = ""
            else:
                # A by-day index in its own order; its rowid breaks ties between users.
                name, implied = _table_index(query.filter)
                index = f"INDEXED BY {name}"
                where += implied
                last_day = key_bound(until)
                where += ["day >= ?", "day <= ?"]
                params += [key_bound(since), min(last_day, after[0][:10]) if after else last_day]
                order = "day DESC, request_time DESC, rowid DESC"
                if after:
                    where.append("(day, request_time, rowid) < (?, ?, ?)")
                    params += [after[0][:10], *after]
            if terms := search_terms(query.text):
                match, match_params = _text_sql(terms)
                where.append(match)
                params += match_params
            columns = _COLUMNS if text_chars is None else _CUT_COLUMNS
            cut = [] if text_chars is None else [text_chars, text_chars]
            rows = db.execute(
                f"SELECT {columns}, rowid FROM dialogs {index} WHERE {' AND '.join(where)} "
                f"ORDER BY {order} LIMIT ?",
                (*cut, *params, limit + 1),
            ).fetchall()
        page = [Dialog(*row[:-1]) for row in rows[:limit]]
        more = len(rows) > limit and page
        next_cursor = json.dumps([page[-1].request_time, rows[limit - 1][-1]]) if more else None
        return DialogPage(page, next_cursor, read=len(page))

    def _matching_bounds(
        self, db: sqlite3.Connection, query: DialogQuery
    ) -> tuple[datetime, datetime] | None:
        """The query's time range cut to the report days whose cells hold dialogs of its
        filter; None when none does. A rare filter's scan stops where its dialogs do."""
        where, params = _filter_sql(query.filter, cells=True)
        if not where:  # every cell matches: the range as it is
            return query.since, query.until
        tz = self.report_timezone
        first = query.since.astimezone(tz).date().isoformat()
        last = (query.until - timedelta(milliseconds=1)).astimezone(tz).date().isoformat()
        found = db.execute(
            "SELECT min(day), max(day) FROM rollup_cells WHERE day >= ? AND day <= ? AND "
            + " AND ".join(where),
            (first, last, *params),
        ).fetchone()
        if found[0] is None:
            return None
        start, end = rollups.day_bounds(found[0], found[1], tz)
        return max(start, query.since), min(end, query.until)

    def dialog(self, user_id: str, request_time: str) -> Dialog | None:
        with self._connection() as db:
            return _dialog(db, user_id, request_time)

    def rollup_cells(
        self, first_day: str, last_day: str
    ) -> tuple[dict[Cell, Counter[str]], ReadStats]:
        with self._connection() as db:
            rows = db.execute(
                f"SELECT {_CELL}, counts FROM rollup_cells WHERE day >= ? AND day <= ?",
                (first_day, last_day),
            ).fetchall()
        cells = {rollups.Cell(*row[:7]): Counter(json.loads(row[7])) for row in rows}
        return cells, ReadStats(items=len(rows), pages=1)

    def rollup_users(self, first_day: str, last_day: str) -> tuple[list[UserRollup], ReadStats]:
        with self._connection() as db:
            rows = db.execute(_USER_ROLLUPS, (first_day, last_day)).fetchall()
        users = []
        for user_id, mode, model_id, last, *sums, joined in rows:
            ids = joined.split(" ")
            counts = Counter({name: n for name, n in zip(_SLICE_COUNTERS, sums, strict=True) if n})
            conversations = frozenset(map(unquote, ids) if "%" in joined else ids)
            users.append(rollups.UserRollup(user_id, mode, model_id, last, counts, conversations))
        return users, ReadStats(items=len(rows), pages=1)

    def recount(self, first_day: str, last_day: str) -> int:
        with self._connection(_WRITE) as db:
            return self._recount(db, first_day, last_day)

    def _recount(self, db: sqlite3.Connection, first_day: str, last_day: str) -> int:
        for table in _DAY_TABLES:
            db.execute(f"DELETE FROM {table} WHERE day >= ? AND day <= ?", (first_day, last_day))
        # A report day spans two UTC days: its dialogs by their exact time.
        start, end = rollups.day_bounds(first_day, last_day, self.report_timezone)
        rows = db.execute(
            f"SELECT {_ROLLUP_COLUMNS} FROM dialogs WHERE day >= ? AND day <= ? "
            f"AND {_KEY} >= ? AND {_KEY} < ?",
            (key_bound(start), key_bound(end), time_key(start), time_key(end)),
        )
        counted = 0
        while chunk := rows.fetchmany(_RECOUNT_CHUNK):
            self._apply(
                db, (rollups.delta(None, Dialog(*row), self.report_timezone) for row in chunk)
            )
            counted += len(chunk)
        return counted

    def _take_away(self, db: sqlite3.Connection, where: str, params: tuple[str, ...]) -> None:
        """Subtract the dialogs about to be deleted from the rollups."""
        rows = db.execute(f"SELECT {_ROLLUP_COLUMNS} FROM dialogs WHERE {where}", params)
        self._apply(db, (rollups.delta(Dialog(*row), None, self.report_timezone) for row in rows))

    @staticmethod
    def _apply(db: sqlite3.Connection, deltas: Iterable[rollups.Delta]) -> None:
        changes = _Changes()
        for delta in deltas:
            changes.add(delta)
        changes.apply(db)
