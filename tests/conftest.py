"""Shared fixtures: an isolated environment, the loopback Bedrock, a SQLite store."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st

from chatbot.store.sqlite import SqliteStore
from harness.isolation import isolated_vars, names_to_remove
from loopback.bedrock import FakeBedrock
from loopback.dynamodb import MotoDynamo


# The outermost wrapper, so the sort comes after any plugin's reordering (--failed-first, ...).
@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> Iterator[None]:
    """Tests marked ``runs_last`` check what the whole session recorded (the loopback servers'
    calls): they run after every other selected test. The sort is stable."""
    yield
    items.sort(key=lambda item: item.get_closest_marker("runs_last") is not None)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test sees the developer's AWS profile, real endpoints or project settings."""
    for name in names_to_remove(os.environ):
        monkeypatch.delenv(name)
    for name, value in isolated_vars(tmp_path).items():
        monkeypatch.setenv(name, value)
    # Clients, stores and model lists are cached per process; each test builds its own.
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoDynamo]:
    """moto's DynamoDB on loopback, one per test session (its state is per process anyway)."""
    with MotoDynamo() as server:
        yield server


@pytest.fixture
def bedrock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBedrock]:
    """The loopback Bedrock, with boto3 pointed at it through the standard variables."""
    with FakeBedrock() as server:
        for name, value in server.env().items():
            monkeypatch.setenv(name, value)
        yield server


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "store.sqlite3")
