"""Every AWS operation the loopback servers answered, with the caller's User-Agent.

Process-wide, because the servers run in the test process (the browser tests' Streamlit
subprocess calls the in-process loopback Bedrock), so one list sees every call of a test run;
``tests/test_iam_policy.py`` checks them against the IAM policies in ``iam/``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

__all__ = ["Call", "calls", "record"]


@dataclass(frozen=True)
class Call:
    """One request, named as the server saw it."""

    operation: str  # "converse-stream", "list-foundation-models", "DynamoDB_20120810.PutItem"
    user_agent: str
    # The model id, or the tables ("chat") and indexes ("chat/index/by_day") it names.
    resources: tuple[str, ...] = ()
    # The test running when it arrived, as pytest names it: "tests/test_x.py::test_y (call)".
    test: str = field(default_factory=lambda: os.environ.get("PYTEST_CURRENT_TEST", ""))


_lock = threading.Lock()
_calls: list[Call] = []


def record(call: Call) -> None:
    with _lock:
        _calls.append(call)


def calls() -> list[Call]:
    with _lock:
        return list(_calls)
