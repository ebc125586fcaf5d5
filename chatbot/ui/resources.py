"""Streamlit glue: settings from ``st.secrets``, and the long-lived clients, built once.

``st.cache_resource`` shares one store and one Bedrock client across all sessions of the
server process; a failed build raises and is not cached, so the next run tries again.
What the first answer needs and the page does not (LangChain's model, boto3, pandas) is
imported by a background thread once the chat page is drawn (``warm_up``), so a cold start
draws the page without waiting for it, and the first question does not wait for it either.
"""

from __future__ import annotations

import importlib
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from chatbot import aws, llm
from chatbot.access import AnalystHistory
from chatbot.config import Settings
from chatbot.errors import error_code
from chatbot.i18n import ui_language
from chatbot.rollups import Tally, UserRollup
from chatbot.store import DialogStore, open_store
from chatbot.store.base import DialogPage, DialogQuery, ReadStats
from chatbot.store.outbox import Outbox

if TYPE_CHECKING:
    from langchain_aws import ChatBedrockConverse

    from chatbot.analytics import CellTable

T = TypeVar("T")

log = logging.getLogger(__name__)

# The warm-up waits this long after the chat page's first run: meanwhile the browser fetches
# the page's script chunks from this server (about 100 requests), which a thread importing
# would slow down, the two sharing one GIL (started at once, it cost the cold start 0.15 s
# here; after 0.5 s, nothing measurable).
WARM_UP_DELAY_S = 0.5
# What the first answer imports, in the order it does (so that a turn started during the
# warm-up waits on the import under way instead of importing beside it): st.write_stream
# asks Streamlit's dataframe_util whether its argument is a data frame, which imports numpy,
# pandas and pyarrow (0.3 s); then the model's client, boto3, and the model, langchain_aws
# with LangChain's language models (0.5 s; chatbot/llm.py).
WARM_UP_MODULES = ("numpy", "pandas", "pyarrow", "boto3", "langchain_aws")


def secrets() -> Mapping[str, Any]:
    """``st.secrets`` as a mapping; empty when the app has no secrets file."""
    try:
        return st.secrets.to_dict()
    except (StreamlitSecretNotFoundError, FileNotFoundError):
        return {}


def settings() -> Settings:
    """Read on every run, so an edited secrets file takes effect without a restart."""
    return Settings.load(os.environ, secrets())


def language() -> str:
    """The UI language, from the browser's locale."""
    return ui_language(st.context.locale)


@st.cache_resource(show_spinner=False)
def dialog_store(settings: Settings) -> DialogStore:
    return open_store(settings)


@st.cache_resource(show_spinner=False, on_release=Outbox.close)
def outbox(settings: Settings) -> Outbox:
    """One queue and writer thread per process in front of the store; never raises (a queue
    file that fails is reported by ``Outbox.problem`` and bypassed)."""
    writer_store = open_store(settings, background=True)
    return Outbox(Path(settings.chat_outbox_db).expanduser(), writer_store)


def bedrock_region(settings: Settings) -> str:
    """The region Bedrock calls go to, for messages; "?" when none is configured."""
    return aws.region(settings.bedrock_region) or "?"


@st.cache_resource(show_spinner=False)
def _bedrock_runtime(region: str | None) -> Any:
    return llm.bedrock_runtime_client(region)


@dataclass(frozen=True)
class Read(Generic[T]):
    """What a read of the store returned, what it cost, and when it was made."""

    value: T
    stats: ReadStats
    seconds: float
    at: datetime


def _timed(read: Callable[[], tuple[T, ReadStats]]) -> Read[T]:
    began = time.perf_counter()
    value, stats = read()
    return Read(value, stats, time.perf_counter() - began, datetime.now(UTC))


# The History page's reads, kept a minute so that filtering, paging, selecting and switching
# tabs do not read the store again on every rerun. One shared object, not a copy per hit
# (``st.cache_data`` would pickle it each time): callers never change what they get. Only an
# analyst holds an ``AnalystHistory``, so only analysts reach these caches; ``source`` (the
# table or the file) keys them, since the history object itself is not.
@st.cache_resource(ttl=60, max_entries=8, show_spinner=False)
def rollup_cells(_history: AnalystHistory, source: str, first: str, last: str) -> Read[CellTable]:
    """The rollup cells of the days ``first`` to ``last`` (reporting time zone), in the
    columns every chart sums (converted once per read, not once per chart)."""
    # Imported here: pandas is the History page's alone, and 0.4 s of the chat's start-up.
    from chatbot import analytics

    read = _timed(lambda: _history.cells(first, last))
    return Read(analytics.cell_table(read.value), read.stats, read.seconds, read.at)


@st.cache_resource(ttl=60, max_entries=8, show_spinner=False)
def rollup_users(
    _history: AnalystHistory, source: str, first: str, last: str
) -> Read[list[UserRollup]]:
    """The per-user rows of those days: read only when the page's Users tab is open."""
    return _timed(lambda: _history.users(first, last))


@st.cache_resource(ttl=60, max_entries=8, show_spinner=False)
def user_tally(
    _history: AnalystHistory, source: str, user_id: str, first: str, last: str
) -> Read[Tally]:
    """One user's rollups of those days, counted from their dialogs."""
    return _timed(lambda: _history.user_tally(user_id, first, last))


@st.cache_resource(ttl=60, max_entries=32, show_spinner=False)
def dialog_page(
    _history: AnalystHistory, source: str, query: DialogQuery, limit: int, cursor: str | None
) -> DialogPage:
    """A page of the table, texts cut: whole texts are read only for a selected row."""
    return _history.page(query, limit, cursor)


def clear_history_reads() -> None:
    """Forget every kept History read: the next run reads the store anew (Refresh)."""
    for cached in (rollup_cells, rollup_users, user_tally, dialog_page):
        cached.clear()


@st.cache_data(ttl=3600, show_spinner=False)
def foundation_models(region: str | None) -> list[dict[str, Any]]:
    return llm.list_models(region)


@st.cache_resource(show_spinner=False)
def chat_model(region: str | None, model_id: str, max_tokens: int) -> ChatBedrockConverse:
    return llm.chat_model(_bedrock_runtime(region), model_id, max_tokens)


def warm_up() -> None:
    """Once per process, shortly after the chat page has been drawn, a background thread
    imports what the first answer needs, so that a cold start draws the page without it and
    the first question does not wait for it either. Imports only: they hold no settings or
    credentials, so nothing built from a stale environment can be cached."""
    _warm_up_timer()


@st.cache_resource(show_spinner=False)
def _warm_up_timer() -> threading.Timer:
    timer = threading.Timer(WARM_UP_DELAY_S, _import_for_first_answer)
    timer.name, timer.daemon = "warm-up", True
    timer.start()
    return timer


def _import_for_first_answer() -> None:
    try:
        for module in WARM_UP_MODULES:
            importlib.import_module(module)
    except Exception as error:  # the first answer imports them itself, and fails if it must
        log.warning("warm-up failed: %s", error_code(error))


def on_community_cloud() -> bool:
    """Community Cloud checks apps out under /mount/src; its disk is not kept."""
    return Path.cwd().is_relative_to("/mount/src")
