"""The retry queue: no turn is lost when the store fails writes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from langchain_core.messages import AIMessageChunk

from chatbot.conversation import Saved, Turn
from chatbot.modes import MODES
from chatbot.store.base import Dialog
from chatbot.store.outbox import Outbox
from chatbot.store.sqlite import SqliteStore


class FlakyStore:
    """Fails a given share of writes, like a throttled or briefly unreachable table."""

    def __init__(self, store: SqliteStore, failure_rate: float, seed: int = 7) -> None:
        self.store = store
        self.failure_rate = failure_rate
        self.failures = 0
        self._random = random.Random(seed)

    def put(self, dialog: Dialog) -> None:
        if self._random.random() < self.failure_rate:
            self.failures += 1
            raise ConnectionError("injected write failure")
        self.store.put(dialog)


def answered_turn(i: int, user: str = "alice") -> Turn:
    turn = Turn(
        source=lambda: iter([AIMessageChunk(content=f"답변 {i}")]),
        mode=MODES["normal"],
        question=f"질문 {i}",
        user_id=user,
        model_id="m",
    )
    assert "".join(turn.stream()) == f"답변 {i}"
    return turn


def everything(store: SqliteStore, user: str = "alice") -> list[Dialog]:
    return store.user_dialogs(user, datetime.now(UTC) - timedelta(hours=1))


def test_100_turns_at_30_percent_write_failures_are_all_stored(store: SqliteStore, tmp_path):
    flaky = FlakyStore(store, failure_rate=0.3)
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    outcomes = []
    for i in range(100):
        outbox.drain(flaky)  # what every page run does first
        turn = answered_turn(i)
        turn.finish(flaky, [], outbox)
        outcomes.append(turn.saved)
    for _ in range(100):  # later page runs, until the queue is empty
        if outbox.drain(flaky) == 0:
            break
    assert Saved.QUEUED in outcomes and Saved.LOST not in outcomes
    assert flaky.failures > 30
    stored = everything(store)
    assert sorted(d.body for d in stored) == sorted(f"질문 {i}" for i in range(100))
    assert len({d.request_time for d in stored}) == 100


def test_the_queue_survives_a_restart(store: SqliteStore, tmp_path) -> None:
    path = tmp_path / "outbox.sqlite3"
    turn = answered_turn(1)
    turn.finish(FlakyStore(store, failure_rate=1.0), [], Outbox(path))
    assert turn.saved == Saved.QUEUED
    reopened = Outbox(path)  # a new process after a restart
    assert reopened.pending("alice") == 1 and reopened.pending("bob") == 0
    assert reopened.drain(store) == 0
    assert everything(store) == [turn.dialog]


def test_draining_stops_at_the_first_failure_and_keeps_the_rest(store, tmp_path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    down = FlakyStore(store, failure_rate=1.0)
    for i in range(3):
        answered_turn(i).finish(down, [], outbox)
    assert outbox.drain(down) == 3 and down.failures == 3 + 1
    assert outbox.drain(store) == 0 and len(everything(store)) == 3


def test_queueing_the_same_dialog_twice_keeps_one(store, tmp_path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3")
    dialog = answered_turn(1).finish(FlakyStore(store, 1.0), [], outbox)
    outbox.add(dialog)
    assert outbox.pending() == 1
    outbox.drain(store)
    assert everything(store) == [dialog]
