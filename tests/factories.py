"""Dialogs for tests: one builder, every field filled unless a test says otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TypeVar

from chatbot.store.base import Dialog, format_request_time, new_request_id

NOW = datetime(2026, 11, 25, 9, 30, 15, 123000, tzinfo=UTC)


def make_dialog(user: str = "alice", at: datetime = NOW, **changes: object) -> Dialog:
    """A complete Korean dialog of ``user`` asked at ``at``; ``changes`` override fields."""
    request_id = new_request_id()
    values: dict[str, object] = dict(
        user_id=user,
        request_time=format_request_time(at, request_id),
        request_id=request_id,
        type="text",
        body="서울 지하철 요금은? 🚇",
        msg="1,400원입니다.\n<b>not html</b>",
        mode="normal",
        model_id="global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        input_tokens=12,
        cache_read_tokens=8,  # of the 12
        cache_write_tokens=2,
        output_tokens=34,
        ttft_ms=300,
        latency_ms=2300,
        status="complete",
        session_id="s1",
        conversation_id="c1",
    )
    values.update(changes)
    return Dialog(**values)  # type: ignore[arg-type]


T = TypeVar("T")


def eventually(read: Callable[[], T], timeout: float = 15.0) -> T:
    """``read()`` once it returns something truthy: for work a background thread finishes
    (the outbox's writer). Not a timing assertion: the timeout only bounds a broken run."""
    deadline = time.monotonic() + timeout
    while not (value := read()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value
