import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import pytest

from chatbot.store.base import (
    Dialog,
    StoreError,
    format_request_time,
    new_request_id,
    parse_request_time,
)
from chatbot.store.sqlite import SqliteStore

NOW = datetime(2026, 11, 25, 9, 30, 15, 123000, tzinfo=UTC)


def dialog(user: str = "alice", at: datetime = NOW, **changes) -> Dialog:
    request_id = new_request_id()
    values = dict(
        user_id=user,
        request_time=format_request_time(at, request_id),
        request_id=request_id,
        type="text",
        body="서울 지하철 요금은? 🚇",
        msg="1,400원입니다.\n<b>not html</b>",
        mode="normal",
        model_id="m",
        input_tokens=12,
        output_tokens=34,
        ttft_ms=300,
        latency_ms=2300,
        status="complete",
        session_id="s1",
    )
    values.update(changes)
    return Dialog(**values)


def test_request_time_is_utc_milliseconds_and_unique() -> None:
    first, second = new_request_id(), new_request_id()
    a, b = format_request_time(NOW, first), format_request_time(NOW, second)
    assert a.startswith("2026-11-25T09:30:15.123Z#") and a != b
    assert parse_request_time(a) == NOW
    assert parse_request_time("2023-12-05 18:26:00") == datetime(2023, 12, 5, 18, 26, tzinfo=UTC)


def test_every_field_round_trips(store: SqliteStore) -> None:
    written = dialog(body="x" * 100_000, feedback="up")
    store.put(written)
    assert store.user_dialogs("alice", NOW - timedelta(seconds=1)) == [written]


def test_two_turns_in_the_same_millisecond_are_both_kept(store: SqliteStore) -> None:
    store.put(dialog())
    store.put(dialog())
    assert len(store.user_dialogs("alice", NOW - timedelta(days=1))) == 2


def test_writing_the_same_dialog_twice_keeps_one(store: SqliteStore) -> None:
    written = dialog()
    store.put(written)
    store.put(written)
    assert store.user_dialogs("alice", NOW - timedelta(days=1)) == [written]


def test_reads_are_per_user_in_time_order_within_the_range(store: SqliteStore) -> None:
    times = [NOW - timedelta(days=3), NOW - timedelta(hours=1), NOW, NOW + timedelta(hours=1)]
    for at in reversed(times):
        store.put(dialog(at=at))
    store.put(dialog(user="bob"))
    got = store.user_dialogs("alice", NOW - timedelta(days=2), until=NOW + timedelta(minutes=1))
    assert [d.created for d in got] == times[1:3]


def test_rows_of_the_original_system_are_read_by_their_time(store: SqliteStore) -> None:
    old = dialog(at=NOW)
    legacy = old._replace(request_time="2026-11-25 09:00:00", mode=None)
    store.put(legacy)
    since = NOW - timedelta(hours=1)  # 08:30 the same day: the legacy row is inside
    assert store.user_dialogs("alice", since) == [legacy]
    assert store.user_dialogs("alice", NOW - timedelta(minutes=1)) == []


def test_feedback_is_recorded_and_cleared(store: SqliteStore) -> None:
    written = dialog()
    store.put(written)
    store.set_feedback("alice", written.request_time, "down")
    assert store.user_dialogs("alice", NOW - timedelta(days=1))[0].feedback == "down"
    store.set_feedback("alice", written.request_time, None)
    assert store.user_dialogs("alice", NOW - timedelta(days=1))[0].feedback is None


def test_a_new_chat_is_remembered(store: SqliteStore) -> None:
    assert store.chat_start("alice") is None
    store.set_chat_start("alice", NOW)
    store.set_chat_start("alice", NOW + timedelta(minutes=5))
    assert store.chat_start("alice") == NOW + timedelta(minutes=5)
    assert store.chat_start("bob") is None


def test_the_file_uses_wal_and_is_created_with_its_folder(tmp_path) -> None:
    path = tmp_path / "new" / "dir" / "chat.sqlite3"
    SqliteStore(path).put(dialog())
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_concurrent_writers_lose_nothing(store: SqliteStore) -> None:
    def write(user: str) -> None:
        for _ in range(50):
            store.put(dialog(user=user))

    threads = [threading.Thread(target=write, args=(f"user{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i in range(8):
        assert len(store.user_dialogs(f"user{i}", NOW - timedelta(days=1))) == 50


def test_an_unusable_path_is_a_store_error(tmp_path) -> None:
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(StoreError):
        SqliteStore(tmp_path / "file" / "chat.sqlite3")
