"""The way to the store: every dialog and rating is queued on local disk, then written by one
background thread, so a page run never waits on the store and a failed write loses nothing.

A save queues the dialog and waits at most ``SAVE_WAIT_S`` for the thread to report it stored;
when the store is slow or down the page goes on and the dialog stays queued until the store
takes it. The queue is a small SQLite file of its own: it survives a restart and works in
front of either backend.

- Failures of the store are transient (retried with back-off) unless the store rejects the
  dialog itself (``RejectedDialog``): such a dialog, or a record that cannot be read, is moved
  aside to ``rejected`` at once, its user is told, and the rest of the queue goes on.
- Each queued dialog is written once: a writer leases rows before writing them, so other
  processes draining the same file skip them. A rating of a queued dialog updates the queued
  record; a write that raced with a rating leaves the row queued, so the latest rating wins.
- Deleting a user's history deletes their queued dialogs too, never while one is being written.
- When the queue file itself fails (locked, damaged, unwritable), dialogs are written straight
  to the store and ``problem`` says what happened; a damaged file is set aside, not deleted.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path

from chatbot.errors import error_code
from chatbot.store.base import (
    FIELDS,
    Dialog,
    DialogStore,
    MissingDialog,
    Rating,
    RejectedDialog,
    StoreError,
    conversation_of,
)

log = logging.getLogger(__name__)

SAVE_WAIT_S = 0.5  # the longest a page run waits for its dialog to reach the store
BUSY_TIMEOUT_S = 0.25  # a locked queue file is given up on quickly: the store is tried instead
LEASE_S = 120.0  # a leased row is left to its writer this long (longer than a write's retries)
RETRY_DELAYS_S = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)  # after 1, 2, ... failed rounds in a row
IDLE_WAIT_S = 30.0  # with nothing to do, look again this often (another process may add rows)
REOPEN_AFTER_S = 30.0  # an unavailable queue file is tried again this often
BATCH = 100

_SCHEMA = """
CREATE TABLE IF NOT EXISTS pending (
    user_id TEXT NOT NULL,
    request_time TEXT NOT NULL,
    dialog TEXT NOT NULL,
    PRIMARY KEY (user_id, request_time)
);
CREATE TABLE IF NOT EXISTS ratings (
    user_id TEXT NOT NULL,
    request_time TEXT NOT NULL,
    feedback TEXT,
    version INTEGER NOT NULL DEFAULT 1,
    reason TEXT,
    comment TEXT,
    PRIMARY KEY (user_id, request_time)
);
CREATE TABLE IF NOT EXISTS rejected (
    user_id TEXT NOT NULL,
    request_time TEXT NOT NULL,
    dialog TEXT NOT NULL,
    reason TEXT NOT NULL,
    told INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, request_time)
);
"""
# Columns added since the first outbox files were written; they are migrated on open.
_ADDED_COLUMNS = {
    "pending": {"version": "INTEGER NOT NULL DEFAULT 1", "lease_until": "REAL NOT NULL DEFAULT 0"},
    "ratings": {"reason": "TEXT", "comment": "TEXT"},
}


class Saved(StrEnum):
    """Where a dialog (or a rating) went."""

    STORED = "stored"
    QUEUED = "queued"  # the store did not take it yet; it is written when the store is back
    REJECTED = "rejected"  # the store refused the dialog itself; kept aside, the user is told
    LOST = "lost"  # neither the queue nor the store could take it: the user is told


class OutboxProblem(StrEnum):
    DAMAGED = "damaged"  # the file was not a database: set aside, a fresh queue started
    UNAVAILABLE = "unavailable"  # cannot be opened or written: locked, read-only, bad path


Key = tuple[str, str, str]  # ("dialog" or "rating", user_id, request_time)


def _decode(record: str) -> Dialog:
    values = json.loads(record)
    return Dialog(**{name: values[name] for name in FIELDS if name in values})


def _conversation_of_record(record: str) -> str | None:
    """The conversation of a queued record; None for one that cannot be read."""
    try:
        return conversation_of(_decode(record))
    except (ValueError, TypeError, KeyError):
        return None


class Outbox:
    """The queue in front of ``store``; one per process and file (``st.cache_resource``)."""

    def __init__(self, path: str | Path, store: DialogStore, *, wait_s: float = SAVE_WAIT_S):
        self.path = Path(path)
        self.store = store
        self.problem: OutboxProblem | None = None
        self._wait_s = wait_s
        self._db: sqlite3.Connection | None = None
        self._opened_at = 0.0
        self._lock = threading.Lock()  # the one connection, one statement at a time
        self._writing = threading.Lock()  # a write and its dequeue, against delete_user
        self._progress = threading.Condition()  # the writer's news for waiting saves
        self._outcomes: dict[Key, tuple[int, Saved]] = {}
        self._waiting: set[Key] = set()
        self._failed_rounds = 0
        self._retry_at = 0.0
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._open()
        if self.pending():  # left by an earlier process: write them without waiting for a save
            self._start_writer()

    # -- the file ------------------------------------------------------------------------

    def _open(self) -> None:
        self._opened_at = time.monotonic()
        try:
            self._db = self._connect()
        except sqlite3.OperationalError as error:  # locked, read-only, cannot create
            self._fail(OutboxProblem.UNAVAILABLE, error)
        except sqlite3.DatabaseError as error:  # not a database, or a damaged one
            self._set_aside(error)
        except OSError as error:  # the folder cannot be created
            self._fail(OutboxProblem.UNAVAILABLE, error)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, check_same_thread=False)
        try:
            with db:
                db.execute("PRAGMA journal_mode=WAL")
                db.executescript(_SCHEMA)
                for table, columns in _ADDED_COLUMNS.items():
                    have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
                    for name, kind in columns.items():
                        if name not in have:
                            db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
        except BaseException:
            db.close()
            raise
        return db

    def _set_aside(self, error: Exception) -> None:
        """Move a damaged file out of the way (an administrator may recover its rows) and
        start a fresh queue in its place."""
        if self._db is not None:
            self._db.close()
            self._db = None
        aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%dT%H%M%S')}")
        try:
            for suffix in ("", "-wal", "-shm"):
                part = Path(f"{self.path}{suffix}")
                if part.exists():
                    part.rename(Path(f"{aside}{suffix}"))
        except OSError as rename_error:
            self._fail(OutboxProblem.UNAVAILABLE, rename_error)
            return
        self._fail(OutboxProblem.DAMAGED, error)
        log.error("outbox %s was damaged; moved to %s", self.path, aside)
        try:
            self._db = self._connect()
        except (sqlite3.Error, OSError) as reopen_error:
            self._fail(OutboxProblem.UNAVAILABLE, reopen_error)

    def _fail(self, problem: OutboxProblem, error: BaseException) -> None:
        if self.problem != problem:  # logged once per kind, not once per dialog
            log.error("outbox %s %s: %s", self.path, problem, error_code(error))
        self.problem = problem

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection in a transaction; raises sqlite3.Error when the queue fails."""
        if self._closed.is_set():
            raise sqlite3.OperationalError("the outbox is closed")
        if self._db is None and time.monotonic() - self._opened_at > REOPEN_AFTER_S:
            self._open()
        if self._db is None:
            raise sqlite3.OperationalError("the outbox is unavailable")
        try:
            with self._lock, self._db:
                yield self._db
        except sqlite3.OperationalError as error:
            self._fail(OutboxProblem.UNAVAILABLE, error)
            raise
        except sqlite3.DatabaseError as error:
            with self._lock:
                self._set_aside(error)
            raise

    # -- what pages call -----------------------------------------------------------------

    def save(self, dialog: Dialog) -> Saved:
        """Queue ``dialog`` and wait briefly for it to be stored; re-saving replaces it."""
        record = json.dumps(dialog._asdict(), ensure_ascii=False)
        try:
            with self._transaction() as db:
                (version,) = db.execute(
                    "INSERT INTO pending (user_id, request_time, dialog) VALUES (?, ?, ?) "
                    "ON CONFLICT (user_id, request_time) DO UPDATE SET "
                    "dialog = excluded.dialog, version = version + 1 RETURNING version",
                    (dialog.user_id, dialog.request_time, record),
                ).fetchone()
        except sqlite3.Error:
            return self._write_through(dialog)
        return self._await(("dialog", dialog.user_id, dialog.request_time), version)

    def rate(self, user_id: str, request_time: str, rating: Rating) -> Saved:
        """Record a rating: in the queued dialog while it waits, else queued for the store."""
        try:
            with self._transaction() as db:
                row = db.execute(
                    "UPDATE pending SET dialog = json_set(dialog, '$.feedback', ?, "
                    "'$.feedback_reason', ?, '$.feedback_comment', ?), "
                    "version = version + 1 WHERE user_id = ? AND request_time = ? "
                    "RETURNING version",
                    (*rating, user_id, request_time),
                ).fetchone()
                key: Key = ("dialog", user_id, request_time)
                if row is None:
                    row = db.execute(
                        "INSERT INTO ratings (user_id, request_time, feedback, reason, comment) "
                        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (user_id, request_time) DO UPDATE "
                        "SET feedback = excluded.feedback, reason = excluded.reason, "
                        "comment = excluded.comment, version = version + 1 RETURNING version",
                        (user_id, request_time, *rating),
                    ).fetchone()
                    key = ("rating", user_id, request_time)
        except sqlite3.Error:
            try:
                self.store.set_feedback(user_id, request_time, rating)
            except StoreError as error:
                log.warning("rating failed: %s", error_code(error))
                return Saved.LOST
            return Saved.STORED
        return self._await(key, row[0])

    def pending(self, user_id: str | None = None) -> int:
        """Dialogs waiting for the store (0 when the queue cannot be read)."""
        query, params = "SELECT count(*) FROM pending", tuple[str, ...]()
        if user_id is not None:
            query, params = query + " WHERE user_id = ?", (user_id,)
        try:
            with self._transaction() as db:
                return db.execute(query, params).fetchone()[0]
        except sqlite3.Error:
            return 0

    def pending_dialogs(self, user_id: str, since: str = "") -> list[Dialog]:
        """A user's queued dialogs from the key ``since`` on, in time order (for replay)."""
        try:
            with self._transaction() as db:
                rows = db.execute(
                    "SELECT dialog FROM pending WHERE user_id = ? AND request_time >= ? "
                    "ORDER BY request_time",
                    (user_id, since),
                ).fetchall()
        except sqlite3.Error:
            return []
        dialogs = []
        for (record,) in rows:
            try:
                dialogs.append(_decode(record))
            except (ValueError, TypeError, KeyError):
                continue  # the writer moves it aside and tells the user
        return dialogs

    def take_rejections(self, user_id: str) -> int:
        """How many of the user's dialogs the store rejected since they were last told."""
        try:
            with self._transaction() as db:
                return db.execute(
                    "UPDATE rejected SET told = 1 WHERE user_id = ? AND told = 0", (user_id,)
                ).rowcount
        except sqlite3.Error:
            return 0

    def delete_user(self, user_id: str) -> int:
        """Delete the user's queued and rejected dialogs and ratings; how many dialogs.

        Waits for a write in progress, so no dialog of the user reaches the store after.
        """
        try:
            with self._writing, self._transaction() as db:
                deleted = db.execute("DELETE FROM pending WHERE user_id = ?", (user_id,)).rowcount
                deleted += db.execute("DELETE FROM rejected WHERE user_id = ?", (user_id,)).rowcount
                db.execute("DELETE FROM ratings WHERE user_id = ?", (user_id,))
        except sqlite3.Error as error:
            # Deleting the stored dialogs but not the queued ones would bring them back.
            raise StoreError(
                f"the outbox {self.path} could not be read ({self.problem})"
            ) from error
        return deleted

    def delete_conversation(self, user_id: str, conversation_id: str) -> int:
        """Delete the user's queued and rejected dialogs of a conversation; how many.

        Waits for a write in progress, as ``delete_user`` does."""
        try:
            with self._writing, self._transaction() as db:
                deleted = 0
                for table in ("pending", "rejected"):
                    rows = db.execute(
                        f"SELECT request_time, dialog FROM {table} WHERE user_id = ?", (user_id,)
                    ).fetchall()
                    doomed = [
                        (user_id, request_time)
                        for request_time, record in rows
                        if _conversation_of_record(record) == conversation_id
                    ]
                    db.executemany(
                        f"DELETE FROM {table} WHERE user_id = ? AND request_time = ?", doomed
                    )
                    deleted += len(doomed)
        except sqlite3.Error as error:
            raise StoreError(
                f"the outbox {self.path} could not be read ({self.problem})"
            ) from error
        return deleted

    @property
    def store_down(self) -> bool:
        """Whether the last write failed and the writer is waiting to try again."""
        return time.monotonic() < self._retry_at

    def close(self) -> None:
        self._closed.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    # -- waiting for the writer ----------------------------------------------------------

    def _write_through(self, dialog: Dialog) -> Saved:
        """No queue: write on the caller's thread, as the only way left."""
        try:
            self.store.put(dialog)
        except RejectedDialog as error:
            log.error("dialog %s rejected: %s", dialog.request_id, error_code(error))
            return Saved.REJECTED
        except StoreError as error:
            log.error("dialog %s lost: %s", dialog.request_id, error_code(error))
            return Saved.LOST
        return Saved.STORED

    def _await(self, key: Key, version: int) -> Saved:
        """Wait until the writer reports ``key`` written at ``version`` or later, a write
        fails, or SAVE_WAIT_S passes; with the store known down, do not wait at all."""
        if self.store_down:
            self._start_writer()
            return Saved.QUEUED
        deadline = time.monotonic() + self._wait_s
        with self._progress:
            self._waiting.add(key)
            failures = self._failed_rounds
        self._start_writer()
        with self._progress:
            try:
                while True:
                    outcome = self._outcomes.get(key)
                    if outcome is not None and outcome[0] >= version:
                        return outcome[1]
                    remaining = deadline - time.monotonic()
                    if self._failed_rounds != failures or remaining <= 0:
                        return Saved.QUEUED
                    self._progress.wait(remaining)
            finally:
                self._waiting.discard(key)
                self._outcomes.pop(key, None)

    def _report(self, key: Key, version: int, outcome: Saved) -> None:
        with self._progress:
            if key in self._waiting:
                self._outcomes[key] = (version, outcome)
            self._progress.notify_all()

    # -- the writer ----------------------------------------------------------------------

    def _start_writer(self) -> None:
        self._wake.set()
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="outbox-writer", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.clear()
            if not self.store_down:
                self.drain()
            wait = self._retry_at - time.monotonic() if self.store_down else IDLE_WAIT_S
            self._wake.wait(max(wait, 0.01))

    def drain(self) -> int:
        """Write what is queued, ratings after dialogs; how many dialogs are left.

        The background writer calls this; tests and benchmarks may too.
        """
        try:
            if self._write_dialogs() and self._write_ratings():
                self._failed_rounds, self._retry_at = 0, 0.0
        except sqlite3.Error:
            pass  # the queue file failed: ``problem`` says so, saves go to the store directly
        return self.pending()

    def _failed(self, error: Exception) -> None:
        log.warning("outbox: the store is failing: %s", error_code(error))
        delay = RETRY_DELAYS_S[min(self._failed_rounds, len(RETRY_DELAYS_S) - 1)]
        with self._progress:
            self._failed_rounds += 1
            self._retry_at = time.monotonic() + delay
            self._progress.notify_all()

    def _lease(self) -> list[tuple[str, str]]:
        now = time.time()
        with self._transaction() as db:
            keys = db.execute(
                "UPDATE pending SET lease_until = ? WHERE rowid IN (SELECT rowid FROM pending "
                "WHERE lease_until <= ? ORDER BY request_time LIMIT ?) "
                "RETURNING user_id, request_time",
                (now + LEASE_S, now, BATCH),
            ).fetchall()
        return sorted(keys, key=lambda key: key[1])

    def _release(self, keys: list[tuple[str, str]]) -> None:
        with self._transaction() as db:
            db.executemany(
                "UPDATE pending SET lease_until = 0 WHERE user_id = ? AND request_time = ?", keys
            )

    def _write_dialogs(self) -> bool:
        """Write leased rows oldest first; False when the store failed (the rest wait)."""
        while keys := self._lease():
            for index, key in enumerate(keys):
                if not self._write_one(*key):
                    self._release(keys[index:])
                    return False
        return True

    def _write_one(self, user_id: str, request_time: str) -> bool:
        with self._writing:  # delete_user waits for this write and its dequeue
            with self._transaction() as db:
                row = db.execute(
                    "SELECT dialog, version FROM pending WHERE user_id = ? AND request_time = ?",
                    (user_id, request_time),
                ).fetchone()
            if row is None:
                return True  # deleted by its user since it was leased
            record, version = row
            key: Key = ("dialog", user_id, request_time)
            try:
                dialog = _decode(record)
                self.store.put(dialog)
            except (ValueError, TypeError, KeyError, RejectedDialog) as error:
                self._reject(user_id, request_time, record, error)
                self._report(key, version, Saved.REJECTED)
                return True
            except Exception as error:  # transient: this one and the rest wait for a retry
                self._failed(error)
                return False
            with self._transaction() as db:
                done = db.execute(
                    "DELETE FROM pending WHERE user_id = ? AND request_time = ? AND version = ?",
                    (user_id, request_time, version),
                ).rowcount
                if not done:  # rated while being written: the next round writes the rating
                    db.execute(
                        "UPDATE pending SET lease_until = 0 WHERE user_id = ? AND request_time = ?",
                        (user_id, request_time),
                    )
        self._report(key, version, Saved.STORED)
        return True

    def _reject(self, user_id: str, request_time: str, record: str, error: Exception) -> None:
        reason = error_code(error)
        log.error("outbox: dialog of %s at %s rejected: %s", user_id, request_time, reason)
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO rejected (user_id, request_time, dialog, reason) "
                "VALUES (?, ?, ?, ?)",
                (user_id, request_time, record, reason),
            )
            db.execute(
                "DELETE FROM pending WHERE user_id = ? AND request_time = ?",
                (user_id, request_time),
            )

    def _write_ratings(self) -> bool:
        with self._transaction() as db:
            rows = db.execute(
                "SELECT user_id, request_time, feedback, reason, comment, version FROM ratings"
            ).fetchall()
        for user_id, request_time, feedback, reason, comment, version in rows:
            with self._writing:
                try:
                    self.store.set_feedback(
                        user_id, request_time, Rating(feedback, reason, comment)
                    )
                    outcome = Saved.STORED
                except MissingDialog:  # deleted meanwhile: nothing left to rate
                    outcome = Saved.REJECTED
                except Exception as error:
                    self._failed(error)
                    return False
                with self._transaction() as db:
                    db.execute(
                        "DELETE FROM ratings WHERE user_id = ? AND request_time = ? "
                        "AND version = ?",
                        (user_id, request_time, version),
                    )
            self._report(("rating", user_id, request_time), version, outcome)
        return True
