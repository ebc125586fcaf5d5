"""What only the SQLite backend has; the shared behaviour is in test_store_contract.py."""

import contextlib
import gc
import os
import sqlite3
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from chatbot import rollups
from chatbot.rollups import DEFAULT_REPORT_TIMEZONE, CellFilter, tally, user_rollups
from chatbot.store.base import (
    FIELDS,
    Dialog,
    DialogQuery,
    Rating,
    StoreError,
    format_request_time,
    new_request_id,
    parse_request_time,
)
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
    everything = DialogQuery(NOW - timedelta(days=1), NOW + timedelta(days=1), CellFilter())
    dialogs = store.dialog_page(everything, 1000).dialogs
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


# Rollups: what the SQLite file keeps beside its dialogs.
SEOUL = ZoneInfo(DEFAULT_REPORT_TIMEZONE)
FIRST_DAY, LAST_DAY = "2023-12-01", "2026-12-31"  # every day the tests below write
EVENING = datetime(2026, 11, 25, 14, 50, tzinfo=UTC)  # 23:50 in Seoul, 14:50 in UTC


def stored_dialogs(path: Path) -> list[Dialog]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return [Dialog(*row) for row in db.execute(f"SELECT {', '.join(FIELDS)} FROM dialogs")]


def assert_rollups_are_the_tally(store: SqliteStore, timezone: ZoneInfo = SEOUL) -> None:
    expected = tally(stored_dialogs(store.path), timezone)
    assert store.rollup_cells(FIRST_DAY, LAST_DAY)[0] == expected.cells
    users, _ = store.rollup_users(FIRST_DAY, LAST_DAY)
    assert users == user_rollups(expected.slices, expected.conversations)


def dialogs_per_day(store: SqliteStore) -> Counter[str]:
    per_day: Counter[str] = Counter()
    for cell, counts in store.rollup_cells(FIRST_DAY, LAST_DAY)[0].items():
        per_day[cell.day] += counts[rollups.DIALOGS]
    return per_day


def around_midnight() -> list[Dialog]:
    """Dialogs on both sides of midnight in Seoul, of several users, modes and outcomes."""
    return [
        make_dialog("alice", EVENING, conversation_id="a1"),
        make_dialog("alice", EVENING + timedelta(minutes=20), conversation_id="a1", msg="Sure."),
        make_dialog("bob", EVENING, mode="translation", status="stopped", feedback="down"),
        make_dialog("bob", EVENING + timedelta(hours=12), status="error", error_kind="throttled"),
        make_dialog("carol", EVENING - timedelta(days=1), mode=None, model_id=None),
    ]


def test_a_file_from_before_rollups_is_counted_on_open(tmp_path) -> None:
    path = tmp_path / "chat.sqlite3"
    store = SqliteStore(path)
    for dialog in around_midnight():
        store.put(dialog)
    with contextlib.closing(sqlite3.connect(path)) as db, db:  # as the previous version left it
        added = "SELECT name FROM sqlite_master WHERE name = 'meta' OR name LIKE 'rollup%'"
        for (table,) in db.execute(added).fetchall():
            db.execute(f"DROP TABLE {table}")
    legacy = make_dialog("dave")._replace(request_time="2023-12-05 18:26:00", conversation_id=None)
    SqliteStore(path).put(legacy)  # opened: counted, then kept
    reopened = SqliteStore(path)
    cells, _ = reopened.rollup_cells(FIRST_DAY, LAST_DAY)
    assert sum(counts[rollups.DIALOGS] for counts in cells.values()) == 6
    assert_rollups_are_the_tally(reopened)


def test_the_first_versions_file_gets_rollups_of_its_dialogs(tmp_path) -> None:
    path = tmp_path / "old.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(
            "CREATE TABLE dialogs (user_id TEXT NOT NULL, request_time TEXT NOT NULL, "
            "request_id TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, msg TEXT NOT "
            "NULL, mode TEXT, model_id TEXT, input_tokens INTEGER, output_tokens INTEGER, "
            "ttft_ms INTEGER, latency_ms INTEGER, status TEXT NOT NULL, feedback TEXT, "
            "session_id TEXT, day TEXT NOT NULL, UNIQUE (user_id, request_time))"
        )
        db.executemany(
            "INSERT INTO dialogs (user_id, request_time, request_id, type, body, msg, day, "
            "status, feedback) VALUES (?, ?, ?, 'text', '질문', ?, ?, 'complete', ?)",
            [
                ("alice", "2023-12-05 18:26:00", "r1", "답변입니다", "2023-12-05", "up"),
                ("alice", "2023-12-05 19:00:00", "r2", "An answer", "2023-12-05", None),
                ("bob", "2023-12-06 01:00:00", "r3", "", "2023-12-06", None),
            ],
        )
    store = SqliteStore(path)
    cells, stats = store.rollup_cells(FIRST_DAY, LAST_DAY)
    # 18:26 and 19:00 UTC are the 6th in Seoul; each dialog of a day of its own, by session
    assert {cell.day for cell in cells} == {"2023-12-06"}
    assert stats.items == len(cells) == 3  # Korean, English, no letters
    assert_rollups_are_the_tally(store)


def test_another_report_time_zone_counts_the_rollups_again(tmp_path) -> None:
    path = tmp_path / "chat.sqlite3"
    store = SqliteStore(path)
    for dialog in around_midnight():
        store.put(dialog)
    assert dialogs_per_day(store) == {"2026-11-24": 1, "2026-11-25": 2, "2026-11-26": 2}
    utc = SqliteStore(path, report_timezone=ZoneInfo("UTC"))
    assert dialogs_per_day(utc) == {"2026-11-24": 1, "2026-11-25": 3, "2026-11-26": 1}
    assert_rollups_are_the_tally(utc, ZoneInfo("UTC"))
    utc.put(make_dialog("dave", EVENING))
    assert_rollups_are_the_tally(SqliteStore(path), SEOUL)  # back: counted again, dave too


def test_concurrent_writes_keep_the_rollups_exact(store: SqliteStore) -> None:
    # Eight threads write the same dialogs (as an outbox replay and a retry may), rewrite,
    # rate and delete them: each write reads the row it replaces, so two at once must not
    # both take away what it held.
    shared = [
        make_dialog(
            f"user{n % 3}",
            EVENING + timedelta(minutes=n),
            conversation_id=f"c{n % 4}",
            mode=("normal", "translation")[n % 2],
        )
        for n in range(30)
    ]

    def work(worker: int) -> None:
        for n, dialog in enumerate(shared):
            store.put(dialog if worker % 2 else dialog._replace(status="cut", msg="Cut short"))
            if (n + worker) % 4 == 0:
                store.set_feedback(dialog.user_id, dialog.request_time, Rating("down", "other"))
            if n == 15 and worker == 7:
                store.delete_conversation("user0", "c0")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert_rollups_are_the_tally(store)


def test_any_conversation_id_comes_back_whole_in_the_per_user_table(store: SqliteStore) -> None:
    ids = ["plain", "with space", "100% sure", "%20", "a  b ", "%"]
    for n, conversation_id in enumerate(ids):
        store.put(make_dialog(at=EVENING + timedelta(days=n % 2), conversation_id=conversation_id))
    (row,) = store.rollup_users(FIRST_DAY, LAST_DAY)[0]
    assert row.conversations == frozenset(ids)
    assert_rollups_are_the_tally(store)


def test_the_table_reads_legacy_keys_by_their_time(store: SqliteStore) -> None:
    legacy = [
        make_dialog("alice")._replace(request_time=f"2023-12-05 {hour:02d}:00:00")
        for hour in (9, 14, 15, 23)
    ]
    legacy.append(make_dialog("bob")._replace(request_time="2023-12-05 14:00:00"))
    newer = make_dialog("alice", datetime(2023, 12, 5, 20, tzinfo=UTC))
    for dialog in [*legacy, newer]:
        store.put(dialog)
    # 14:00 to 23:00 UTC: the legacy 14:00 keys are in, 23:00 is not.
    since, until = datetime(2023, 12, 5, 14, tzinfo=UTC), datetime(2023, 12, 5, 23, tzinfo=UTC)
    everyone = DialogQuery(since, until, CellFilter())
    assert [(d.user_id, d.request_time) for d in page_through(store, everyone)] == [
        ("alice", newer.request_time),
        ("alice", "2023-12-05 15:00:00"),
        ("bob", "2023-12-05 14:00:00"),
        ("alice", "2023-12-05 14:00:00"),
    ]
    alice = DialogQuery(since, until, CellFilter(), user_id="alice")
    assert [d.request_time for d in page_through(store, alice)] == [
        newer.request_time,
        "2023-12-05 15:00:00",
        "2023-12-05 14:00:00",
    ]


def page_through(store: SqliteStore, query: DialogQuery, limit: int = 1) -> list[Dialog]:
    dialogs: list[Dialog] = []
    cursor = None
    for _ in range(100):
        page = store.dialog_page(query, limit, cursor)
        dialogs += page.dialogs
        if (cursor := page.cursor) is None:
            return dialogs
    raise AssertionError("the cursor never reached the end")


@pytest.mark.parametrize(
    "wanted",
    [
        CellFilter(feedbacks=["down"]),  # through the ratings' index
        CellFilter(feedbacks=["up"], modes=["normal"]),
        CellFilter(statuses=["error"]),  # through the outcomes' index
        CellFilter(statuses=["stopped"], feedbacks=["", "down"]),
        CellFilter(feedbacks=["", "up"], statuses=["complete", "error"]),  # by day
        CellFilter(modes=["normal"], models=[""]),  # none counts as normal, and as ""
    ],
)
def test_the_tables_filters_match_the_rollups_cells(store: SqliteStore, wanted) -> None:
    outcomes = ("complete", "error", "stopped", "cut")
    written = [
        make_dialog(
            f"user{n % 3}",
            EVENING + timedelta(minutes=7 * n),
            status=outcomes[n % 4],
            feedback=(None, "up", "down")[n % 3],
            mode=(None, "", "normal", "translation")[n % 4],
            model_id=(None, "m")[n % 2],
        )
        for n in range(40)
    ]
    for dialog in written:
        store.put(dialog)
    since, until = EVENING, EVENING + timedelta(days=1)
    got = page_through(store, DialogQuery(since, until, wanted), limit=3)
    cells, _ = store.rollup_cells(FIRST_DAY, LAST_DAY)
    assert len(got) == sum(c[rollups.DIALOGS] for cell, c in cells.items() if wanted.matches(cell))
    expected = [d for d in written if wanted.matches(rollups.contribution(d, SEOUL).cell)]
    assert [d.request_id for d in got] == [d.request_id for d in reversed(expected)]
    assert all(len(d.body) <= 120 and d.document_text is None for d in got)
