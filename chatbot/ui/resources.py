"""Streamlit glue: settings from ``st.secrets``, and the long-lived clients, built once.

``st.cache_resource`` shares one store and one Bedrock client across all sessions of the
server process; a failed build raises and is not cached, so the next run tries again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import streamlit as st
from langchain_aws import ChatBedrockConverse
from streamlit.errors import StreamlitSecretNotFoundError

from chatbot import aws, llm
from chatbot.access import AnalystHistory
from chatbot.config import Settings
from chatbot.i18n import ui_language
from chatbot.store import DialogStore, open_store
from chatbot.store.outbox import Outbox

if TYPE_CHECKING:
    from chatbot.analytics import Loaded


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
def chat_model(region: str | None, model_id: str) -> ChatBedrockConverse:
    return llm.chat_model(_bedrock_runtime(region), model_id)


def on_community_cloud() -> bool:
    """Community Cloud checks apps out under /mount/src; its disk is not kept."""
    return Path.cwd().is_relative_to("/mount/src")
