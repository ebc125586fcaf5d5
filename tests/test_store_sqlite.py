"""What only the SQLite backend has; the shared behaviour is in test_store_contract.py."""

import contextlib
import gc
import os
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatbot.store.base import StoreError, format_request_time, new_request_id, parse_request_time
from chatbot.store.sqlite import SqliteStore
from tests.factories import NOW, make_dialog


def test_request_time_is_utc_milliseconds_and_unique() -> None:
    first, second = new_request_id(), new_request_id()
    a, b = format_request_time(NOW, first), format_request_time(NOW, second)
    assert a.startswith("2026-11-25T09:30:15.123Z#") and a != b
    assert parse_request_time(a) == NOW
    assert parse_request_time("2023-12-05 18:26:00") == datetime(2023, 12, 5, 18, 26, tzinfo=UTC)


def test_the_file_uses_wal_and_is_created_with_its_folder(tmp_path) -> None:
    path = tmp_path / "new" / "dir" / "chat.sqlite3"
    SqliteStore(path).put(make_dialog())
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_writers_lose_nothing(store: SqliteStore) -> None:
    def write(user: str) -> None:
        for _ in range(50):
            store.put(make_dialog(user=user))

    threads = [threading.Thread(target=write, args=(f"user{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(8):
        assert len(store.user_dialogs(f"user{i}", NOW - timedelta(days=1))) == 50


def _open_files(path: Path) -> int:
    """File descriptors of this process on the database and its WAL and shared-memory files."""
    names = {str(path), f"{path}-wal", f"{path}-shm"}
    count = 0
    for link in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # the listing's own descriptor is gone by now
            count += os.readlink(link) in names
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux's /proc")
def test_connections_stay_bounded_when_every_run_is_a_new_thread(tmp_path) -> None:
    # Streamlit runs every script run in a new thread: 100 sessions are 100 threads.
    path = tmp_path / "chat.sqlite3"
    store = SqliteStore(path)
    failures: list[BaseException] = []

    def session(i: int) -> None:
        try:
            store.user_dialogs(f"user{i}", NOW - timedelta(days=1))
            store.put(make_dialog(user=f"user{i}"))
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=session, args=(i,)) for i in range(100)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    gc.collect()  # what is still open now is held, not merely waiting for the collector
    assert not failures
    # At most 8 connections, each with the database and its WAL open, and one shared-memory
    # file; a connection per thread left 40 to 200 open here.
    assert _open_files(path) <= 17
    dialogs, _ = store.browse(NOW - timedelta(days=1), NOW + timedelta(days=1))
    assert len({d.user_id for d in dialogs}) == 100
    store.put(make_dialog(user="after"))
    assert len(store.user_dialogs("after", NOW - timedelta(days=1))) == 1


def test_an_unusable_path_is_a_store_error(tmp_path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError):
        SqliteStore(tmp_path / "file" / "chat.sqlite3")


def test_a_file_of_the_previous_version_gets_the_new_columns(tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:  # the dialogs table as the first version made it
        db.execute(
            "CREATE TABLE dialogs (user_id TEXT NOT NULL, request_time TEXT NOT NULL, "
            "request_id TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, msg TEXT NOT "
            "NULL, mode TEXT, model_id TEXT, input_tokens INTEGER, output_tokens INTEGER, "
            "ttft_ms INTEGER, latency_ms INTEGER, status TEXT NOT NULL, feedback TEXT, "
            "session_id TEXT, day TEXT NOT NULL, UNIQUE (user_id, request_time))"
        )
        old_rows = [
            (
                "alice",
                "2023-12-05 18:26:00",
                "r1",
                "text",
                "옛 질문",
                "옛 답변",
                None,
                "2023-12-05",
            ),
            ("alice", "2023-12-05 19:00:00", "r2", "text", "옛 둘째", "답", None, "2023-12-05"),
            (
                "alice",
                "2026-11-20T10:00:00.000Z#r3",
                "r3",
                "text",
                "세션 질문",
                "답",
                "s9",
                "2026-11-20",
            ),
        ]
        db.executemany(
            "INSERT INTO dialogs (user_id, request_time, request_id, type, body, msg, "
            "session_id, day, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'complete')",
            old_rows,
        )
    store = SqliteStore(path)
    written = make_dialog(trimmed_chars=12)
    store.put(written)
    assert store.user_dialogs("alice", NOW - timedelta(days=1)) == [written]
    # Its dialogs were grouped once, by session, else by day, each group with its summary.
    page = store.conversations("alice", 10).conversations
    assert [c.title for c in page] == [written.body, "세션 질문", "옛 질문"]
    by_day = store.conversation_dialogs("alice", page[2].conversation_id)
    assert [d.body for d in by_day] == ["옛 질문", "옛 둘째"]
    SqliteStore(path)  # opened again: nothing to group twice
    assert len(store.conversations("alice", 10).conversations) == 3
    # Its text was indexed for search on the way (three letters and more use the index).
    assert [d.body for d in store.search("alice", "세션 질문", 10).dialogs] == ["세션 질문"]
    assert [d.request_id for d in store.search("alice", "옛 둘째", 10).dialogs] == ["r2"]
