"""The outbox: every dialog reaches the store once, nothing jams the queue, nothing is lost."""

from __future__ import annotations

import json
import random
import sqlite3
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chatbot.access import UserHistory
from chatbot.identity import Identity
from chatbot.store.base import Dialog, FeedbackReason, MissingDialog, Rating, RejectedDialog
from chatbot.store.outbox import Outbox, OutboxProblem, Saved
from chatbot.store.sqlite import SqliteStore
from tests.factories import eventually, make_dialog


class FlakyStore:
    """A store whose writes fail on demand, like a throttled or unreachable table."""

    def __init__(self, store: SqliteStore, failure_rate: float = 0.0, seed: int = 7) -> None:
        self.store = store
        self.failure_rate = failure_rate
        self.failures = 0
        self.puts: list[str] = []
        self.rejects: set[str] = set()  # bodies the store refuses, like an invalid item
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def put(self, dialog: Dialog) -> None:
        with self._lock:
            self.puts.append(dialog.request_time)
            if dialog.body in self.rejects:
                raise RejectedDialog("ValidationException: item size has exceeded the limit")
            if self._random.random() < self.failure_rate:
                self.failures += 1
                raise ConnectionError("injected write failure")
        self.store.put(dialog)

    def set_feedback(self, user_id: str, request_time: str, rating: Rating) -> None:
        if self._random.random() < self.failure_rate:
            raise ConnectionError("injected write failure")
        self.store.set_feedback(user_id, request_time, rating)

    def __getattr__(self, name: str):
        return getattr(self.store, name)


class HangingStore(FlakyStore):
    """A store whose writes neither succeed nor fail until ``release`` is set."""

    def __init__(self, store: SqliteStore) -> None:
        super().__init__(store)
        self.entered, self.release = threading.Event(), threading.Event()

    def put(self, dialog: Dialog) -> None:
        self.entered.set()
        self.release.wait(10)
        super().put(dialog)


@pytest.fixture
def flaky(store: SqliteStore) -> FlakyStore:
    return FlakyStore(store)


@pytest.fixture
def outbox(tmp_path: Path, flaky: FlakyStore) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.sqlite3", flaky)
    yield box
    box.close()


def everything(store: SqliteStore, user: str = "alice") -> list[Dialog]:
    return store.user_dialogs(user, datetime.now(UTC) - timedelta(days=1))


def dialog(i: int, user: str = "alice", **changes: object) -> Dialog:
    return make_dialog(user, datetime.now(UTC), body=f"질문 {i}", msg=f"답변 {i}", **changes)


def test_a_dialog_is_stored_before_save_returns_when_the_store_is_up(
    outbox: Outbox, store: SqliteStore
) -> None:
    written = dialog(1)
    assert outbox.save(written) == Saved.STORED
    assert everything(store) == [written] and outbox.pending() == 0


def test_100_turns_at_30_percent_write_failures_are_all_stored(
    outbox: Outbox, flaky: FlakyStore, store: SqliteStore
) -> None:
    flaky.failure_rate = 0.3
    outcomes = [outbox.save(dialog(i)) for i in range(100)]
    for _ in range(200):  # the writer's later rounds, run here without its back-off
        if outbox.drain() == 0:
            break
    assert Saved.QUEUED in outcomes and Saved.LOST not in outcomes
    assert flaky.failures > 0
    assert sorted(d.body for d in everything(store)) == sorted(f"질문 {i}" for i in range(100))


def test_the_queue_survives_a_restart(tmp_path: Path, flaky: FlakyStore, store) -> None:
    path = tmp_path / "outbox.sqlite3"
    flaky.failure_rate = 1.0
    first = Outbox(path, flaky)
    written = dialog(1)
    assert first.save(written) == Saved.QUEUED
    first.close()
    reopened = Outbox(path, store)  # a new process after a restart, with the store back
    try:
        assert eventually(lambda: everything(store)) == [written]  # no save needed to start
        assert eventually(lambda: reopened.pending() == 0)
    finally:
        reopened.close()


def test_a_dialog_the_store_rejects_neither_blocks_the_others_nor_is_retried(
    outbox: Outbox, flaky: FlakyStore, store: SqliteStore
) -> None:
    flaky.rejects.add("질문 0")
    refused = dialog(0)
    assert outbox.save(refused) == Saved.REJECTED  # the oldest, at the head of the queue
    flaky.failure_rate = 1.0
    for i in range(1, 4):
        outbox.save(dialog(i))
    flaky.failure_rate = 0.0
    assert outbox.drain() == 0
    assert sorted(d.body for d in everything(store)) == ["질문 1", "질문 2", "질문 3"]
    assert flaky.puts.count(refused.request_time) == 1  # tried once, never again
    assert outbox.take_rejections("alice") == 1  # told once
    assert outbox.take_rejections("alice") == 0


def test_an_unreadable_record_is_set_aside_and_the_queue_goes_on(
    outbox: Outbox, flaky: FlakyStore, store: SqliteStore
) -> None:
    flaky.failure_rate = 1.0
    outbox.save(dialog(1))
    with sqlite3.connect(outbox.path) as db:
        db.execute(
            "INSERT INTO pending (user_id, request_time, dialog) VALUES (?, ?, ?)",
            ("alice", "2000-01-01", "{not json"),
        )
    flaky.failure_rate = 0.0
    assert outbox.drain() == 0
    assert [d.body for d in everything(store)] == ["질문 1"]
    assert outbox.take_rejections("alice") == 1


def test_delete_my_history_deletes_queued_dialogs_and_counts_them(
    outbox: Outbox, flaky: FlakyStore, store: SqliteStore
) -> None:
    history = UserHistory(store, Identity("alice", analyst=False), outbox)
    history.save(dialog(1))
    flaky.failure_rate = 1.0
    history.save(dialog(2))
    history.save(dialog(3))
    store.put(dialog(4, user="bob"))
    assert history.delete_all() == 3  # one stored, two queued
    flaky.failure_rate = 0.0
    outbox.drain()
    assert everything(store) == [] and outbox.pending() == 0
    assert len(everything(store, "bob")) == 1


def test_delete_waits_for_a_write_in_flight(tmp_path: Path, store: SqliteStore) -> None:
    slow = HangingStore(store)
    entered, release = slow.entered, slow.release
    outbox = Outbox(tmp_path / "outbox.sqlite3", slow, wait_s=0.01)
    history = UserHistory(store, Identity("alice", analyst=False), outbox)
    try:
        assert history.save(dialog(1)).saved == Saved.QUEUED  # the page did not wait
        assert entered.wait(10)
        counted: list[int] = []
        deleting = threading.Thread(target=lambda: counted.append(history.delete_all()))
        deleting.start()
        release.set()
        deleting.join(10)
        assert counted == [1] and everything(store) == [] and outbox.pending() == 0
    finally:
        release.set()
        outbox.close()


def test_a_rating_of_a_queued_dialog_is_stored_with_it(
    outbox: Outbox, flaky: FlakyStore, store: SqliteStore
) -> None:
    flaky.failure_rate = 1.0
    written = dialog(1)
    assert outbox.save(written) == Saved.QUEUED
    rating = Rating("down", FeedbackReason.TOO_LONG, "세 줄이면 충분해요")
    assert outbox.rate("alice", written.request_time, rating) == Saved.QUEUED
    flaky.failure_rate = 0.0
    assert outbox.drain() == 0
    [stored] = everything(store)
    assert (stored.feedback, stored.feedback_reason, stored.feedback_comment) == rating


def test_a_rating_of_a_stored_dialog_reaches_the_store(outbox: Outbox, store) -> None:
    written = dialog(1)
    outbox.save(written)
    assert outbox.rate("alice", written.request_time, Rating("up")) == Saved.STORED
    assert [d.feedback for d in everything(store)] == ["up"]
    with pytest.raises(MissingDialog):  # the store says when there is nothing to rate
        store.set_feedback("alice", "1999-01-01T00:00:00.000Z#00000000", Rating("up"))


def test_a_rating_with_a_reason_waits_in_the_queue_like_any_other(
    outbox: Outbox, flaky: FlakyStore, store: SqliteStore
) -> None:
    written = dialog(1)
    outbox.save(written)
    flaky.failure_rate = 1.0
    rating = Rating("down", FeedbackReason.INACCURATE, "요금이 틀렸어요")
    assert outbox.rate("alice", written.request_time, rating) == Saved.QUEUED
    flaky.failure_rate = 0.0
    outbox.drain()  # now, not after the writer's back-off
    [stored] = everything(store)
    assert (stored.feedback, stored.feedback_reason, stored.feedback_comment) == rating


def test_a_rating_given_during_the_write_is_not_wiped(tmp_path: Path, store) -> None:
    written = dialog(1)

    class RatedMidWrite(FlakyStore):
        def put(self, dialog: Dialog) -> None:
            super().put(dialog)
            if len(self.puts) == 1:  # the user clicks 👍 while the first write is in flight
                outbox.rate("alice", written.request_time, Rating("up"))

    racing = RatedMidWrite(store)
    outbox = Outbox(tmp_path / "outbox.sqlite3", racing, wait_s=0.01)
    try:
        outbox.save(written)
        assert eventually(lambda: outbox.pending() == 0)
        assert [d.feedback for d in everything(store)] == ["up"]
        assert len(racing.puts) == 2  # written again, with the rating, then dequeued
    finally:
        outbox.close()


def test_concurrent_drains_write_each_dialog_once(tmp_path: Path, store: SqliteStore) -> None:
    down = FlakyStore(store, failure_rate=1.0)
    path = tmp_path / "outbox.sqlite3"
    first = Outbox(path, down)
    for i in range(200):
        first.save(dialog(i, user=f"user{i % 7}"))
    first.close()
    counting = FlakyStore(store)
    # Four processes on one outbox file, each with its own writer and a drain of its own.
    boxes = [Outbox(path, counting, wait_s=0) for _ in range(4)]
    try:
        drains = [threading.Thread(target=box.drain) for box in boxes]
        for thread in drains:
            thread.start()
        for thread in drains:
            thread.join(30)
        assert eventually(lambda: boxes[0].pending() == 0)
        assert len(counting.puts) == 200 and len(set(counting.puts)) == 200
    finally:
        for box in boxes:
            box.close()


def test_a_slow_store_does_not_hold_up_the_page(tmp_path: Path, store: SqliteStore) -> None:
    hanging = HangingStore(store)
    release = hanging.release
    outbox = Outbox(tmp_path / "outbox.sqlite3", hanging, wait_s=0.05)
    try:
        assert outbox.save(dialog(1)) == Saved.QUEUED  # returned after wait_s, not 10 s
        release.set()
        assert eventually(lambda: everything(store))
    finally:
        release.set()
        outbox.close()


def test_after_a_failure_saves_do_not_wait_and_reads_fail_fast(
    outbox: Outbox, flaky: FlakyStore, store: SqliteStore
) -> None:
    flaky.failure_rate = 1.0
    history = UserHistory(store, Identity("alice", analyst=False), outbox)
    assert history.save(dialog(1)).saved == Saved.QUEUED
    assert outbox.store_down
    tries = len(flaky.puts)
    assert history.save(dialog(2)).saved == Saved.QUEUED
    assert len(flaky.puts) == tries  # queued without a write attempt: the writer backs off
    with pytest.raises(Exception, match="store is failing"):
        history.recent(datetime.now(UTC) - timedelta(days=1))


def test_queued_dialogs_are_replayed_before_the_store_has_them(
    tmp_path: Path, store: SqliteStore
) -> None:
    hanging = HangingStore(store)  # the write has neither succeeded nor failed yet
    release = hanging.release
    stored_one = dialog(1)
    store.put(stored_one)
    outbox = Outbox(tmp_path / "outbox.sqlite3", hanging, wait_s=0.01)
    history = UserHistory(store, Identity("alice", analyst=False), outbox)
    try:
        queued = dialog(2)
        assert history.save(queued).saved == Saved.QUEUED
        assert history.recent(datetime.now(UTC) - timedelta(days=1)) == [stored_one, queued]
    finally:
        release.set()
        outbox.close()


def test_a_damaged_outbox_file_is_set_aside_and_a_new_one_works(
    tmp_path: Path, store: SqliteStore
) -> None:
    path = tmp_path / "outbox.sqlite3"
    path.write_bytes(b"this is not a database" * 100)
    outbox = Outbox(path, store)
    try:
        assert outbox.problem == OutboxProblem.DAMAGED
        assert [p.name for p in tmp_path.glob("outbox.sqlite3.damaged-*")]
        assert outbox.save(dialog(1)) == Saved.STORED
    finally:
        outbox.close()


def test_an_unwritable_outbox_path_writes_straight_to_the_store(
    tmp_path: Path, store: SqliteStore
) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    outbox = Outbox(tmp_path / "a-file" / "outbox.sqlite3", store)
    try:
        assert outbox.problem == OutboxProblem.UNAVAILABLE
        written = dialog(1)
        assert outbox.save(written) == Saved.STORED
        assert outbox.rate("alice", written.request_time, Rating("up")) == Saved.STORED
        assert outbox.pending() == 0 and [d.feedback for d in everything(store)] == ["up"]
    finally:
        outbox.close()


def test_a_locked_outbox_writes_straight_to_the_store(tmp_path: Path, store) -> None:
    path = tmp_path / "outbox.sqlite3"
    outbox = Outbox(path, store)
    locker = sqlite3.connect(path)
    try:
        locker.execute("BEGIN EXCLUSIVE")  # another process holds the file
        assert outbox.save(dialog(1)) == Saved.STORED
        assert outbox.problem == OutboxProblem.UNAVAILABLE
        assert len(everything(store)) == 1
    finally:
        locker.rollback()
        locker.close()
        outbox.close()


def test_an_outbox_of_the_previous_version_is_migrated(tmp_path: Path, store) -> None:
    path = tmp_path / "outbox.sqlite3"
    old = dialog(1)
    with sqlite3.connect(path) as db:  # the schema and a row as the first version wrote them
        db.execute(
            "CREATE TABLE pending (user_id TEXT NOT NULL, request_time TEXT NOT NULL, "
            "dialog TEXT NOT NULL, PRIMARY KEY (user_id, request_time))"
        )
        db.execute(
            "INSERT INTO pending VALUES (?, ?, ?)",
            (
                old.user_id,
                old.request_time,
                json.dumps(
                    {"user_id": "alice", "request_time": old.request_time, "request_id": "r"}
                    | {"type": "text", "body": "b", "msg": "m"}
                ),
            ),
        )
    outbox = Outbox(path, store)
    try:
        assert eventually(lambda: everything(store))[0].body == "b"
    finally:
        outbox.close()


def test_a_conversation_is_listed_and_opened_while_its_dialogs_are_queued(
    tmp_path: Path, store: SqliteStore
) -> None:
    def at(i: int, conversation: str) -> Dialog:  # a second apart: the order is certain
        when = datetime.now(UTC) + timedelta(seconds=i)
        return make_dialog("alice", when, body=f"질문 {i}", conversation_id=conversation)

    hanging = HangingStore(store)  # the writes have neither succeeded nor failed yet
    stored = at(1, "c1")
    store.put(stored)
    outbox = Outbox(tmp_path / "outbox.sqlite3", hanging, wait_s=0.01)
    history = UserHistory(store, Identity("alice", analyst=False), outbox)
    try:
        queued = [at(2, "c1"), at(3, "c2")]
        assert [history.save(one).saved for one in queued] == [Saved.QUEUED] * 2
        page = history.conversations(10)
        assert [(c.conversation_id, c.title, c.updated) for c in page.conversations] == [
            ("c2", "질문 3", queued[1].request_time),
            ("c1", "질문 1", queued[0].request_time),
        ]
        assert history.conversation("c1") == [stored, queued[0]]
    finally:
        hanging.release.set()
        outbox.close()


def test_deleting_a_conversation_deletes_its_queued_dialogs_and_counts_them(
    outbox: Outbox, flaky: FlakyStore, store: SqliteStore
) -> None:
    history = UserHistory(store, Identity("alice", analyst=False), outbox)
    history.save(dialog(1, conversation_id="c1"))
    flaky.failure_rate = 1.0
    history.save(dialog(2, conversation_id="c1"))
    kept = dialog(3, conversation_id="c2")
    history.save(kept)
    assert history.delete_conversation("c1") == 2  # one stored, one queued
    flaky.failure_rate = 0.0
    outbox.drain()
    assert everything(store) == [kept]
    assert [c.conversation_id for c in store.conversations("alice", 10).conversations] == ["c2"]
