"""Streamlit glue: one browser session's chat, kept in ``st.session_state``.

The session holds the dialogs on screen and the conversation memory, a list of LangChain
messages. (langchain-community's ``StreamlitChatMessageHistory`` held the same list, but its
base class ``BaseChatMessageHistory`` is deprecated since langchain-core 1.6.4.)
The user's recent dialogs are read from the store once, on the session's first run, never
per turn.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime, timedelta

import streamlit as st
from langchain_core.messages import BaseMessage

from chatbot.access import UserHistory
from chatbot.errors import error_code
from chatbot.memory import remember, replayed_messages
from chatbot.store import Dialog

log = logging.getLogger(__name__)


class ChatSession:
    """The chat of the signed-in (or locally named) user in this browser session."""

    def __init__(self, history: UserHistory) -> None:
        user_id = history.user_id
        state = st.session_state
        if state.get("chat_user") != user_id:
            # Another user in the same browser tab: nothing of the previous one may remain.
            state.chat_user = user_id
            state.chat_dialogs = []
            state.chat_notices = {}
            state.chat_session_id = str(uuid.uuid4())
            state.chat_replayed = None
            state.chat_memory = []
            state.chat_told = set()
        self.history = history
        # The session's lists themselves, taken once and changed in place: after the user
        # presses stop, any Streamlit call (session state included) may raise, and a
        # stopped turn must still reach the memory and the screen.
        self.memory: list[BaseMessage] = state.chat_memory  # the window is cut from it
        self.dialogs: list[Dialog] = state.chat_dialogs
        # Messages shown under an answer of this session (errors, stop), by request id.
        self.notices: dict[str, str] = state.chat_notices

    @property
    def session_id(self) -> str:
        return st.session_state.chat_session_id

    @property
    def replayed(self) -> int:
        """How many replayed dialogs are on screen (0 after a clear or a failed replay)."""
        return st.session_state.chat_replayed or 0

    def replay(self, days: int) -> bool:
        """Load recent dialogs once per session; False if the store could not be read."""
        if st.session_state.chat_replayed is not None:
            return True
        since = datetime.now(UTC) - timedelta(days=days)
        try:
            started = self.history.chat_start()
            if started is not None:
                since = max(since, started)
            dialogs = self.history.recent(since) if days else []
        except Exception as error:  # the chat still works without its past
            log.warning("replaying history failed: %s", error_code(error))
            st.session_state.chat_replayed = 0
            return False
        self.dialogs[:0] = dialogs
        self.memory[:0] = replayed_messages(dialogs)
        st.session_state.chat_replayed = len(dialogs)
        return True

    def first_notice(self, key: str) -> bool:
        """True the first time ``key`` is asked for in this session: a notice shown once."""
        told: set[str] = st.session_state.chat_told
        if key in told:
            return False
        told.add(key)
        return True

    def add(self, dialog: Dialog, notice: str | None = None) -> None:
        """A finished turn: on screen, and in the memory if it belongs to the conversation."""
        self.dialogs.append(dialog)
        remember(self.memory, dialog)
        if notice:
            self.notices[dialog.request_id] = notice

    def clear(self) -> None:
        """Empty the screen and the memory; a new session id starts."""
        self.dialogs.clear()
        self.notices.clear()
        self.memory.clear()
        st.session_state.chat_session_id = str(uuid.uuid4())
        st.session_state.chat_replayed = 0

    def new_chat(self) -> bool:
        """Clear the screen and the memory, and remember it so a reload does not undo it.

        Returns False if the store could not record the new start.
        """
        self.clear()
        try:
            self.history.set_chat_start(datetime.now(UTC))
        except Exception as error:
            log.warning("recording a new chat failed: %s", error_code(error))
            return False
        return True

    # The page's one-shot states, kept across reruns: a dialog box, a report, a retry.

    @property
    def confirming_delete(self) -> bool:
        """Whether the delete-my-history dialog is open (a full rerun must find it open)."""
        return st.session_state.get("chat_confirming_delete", False)

    def open_delete(self) -> None:
        st.session_state.chat_confirming_delete = True

    def close_delete(self) -> None:
        st.session_state.chat_confirming_delete = False

    def deleted(self, count: int) -> None:
        """Remember how many dialogs were deleted, to report after the rerun."""
        st.session_state.chat_deleted = count

    def take_deleted(self) -> int | None:
        return st.session_state.pop("chat_deleted", None)

    def ask_again(self, question: str, mode_id: str) -> None:
        """A Retry click: the question and its mode, for the next run to send."""
        st.session_state.chat_retry = (question, mode_id)

    def take_retry(self) -> tuple[str, str] | None:
        """The question and mode of a Retry click, once."""
        return st.session_state.pop("chat_retry", None)
