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
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st
from streamlit.errors import StreamlitSecretNotFoundError

from chatbot import aws, llm
from chatbot.access import AnalystHistory
from chatbot.config import Settings
from chatbot.errors import error_code
from chatbot.i18n import ui_language
from chatbot.store import DialogStore, open_store
from chatbot.store.outbox import Outbox

if TYPE_CHECKING:
    from langchain_aws import ChatBedrockConverse

    from chatbot.analytics import Loaded

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


@st.cache_resource(ttl=60, max_entries=2, show_spinner=False)
def browsed(
    _history: AnalystHistory,
    source: str,
    since: datetime,
    until: datetime,
    user_id: str | None,
) -> Loaded:
    """A range's dialogs, kept a minute so that filtering, paging and selecting do not read
    100,000 rows again on every rerun. One shared object, not a copy per hit
    (``st.cache_data`` would pickle it each time): callers filter into new frames.
    Only an analyst holds an ``AnalystHistory``, so only analysts reach this cache;
    ``source`` (the table or the file) keys it, since the history object itself is not."""
    # Imported here: pandas is the History page's alone, and 0.4 s of the chat's start-up.
    from chatbot import analytics

    return analytics.load(_history, since, until, user_id)


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
