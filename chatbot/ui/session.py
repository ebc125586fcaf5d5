"""Streamlit glue: one browser session's chat, kept in ``st.session_state``.

The session holds the open conversation's dialogs and its memory, a list of LangChain
messages. (langchain-community's ``StreamlitChatMessageHistory`` held the same list, but its
base class ``BaseChatMessageHistory`` is deprecated since langchain-core 1.6.4.)
The store is read when a conversation is opened and for the list's pages (the first once a
session), never per turn.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime

import streamlit as st
from langchain_core.messages import BaseMessage

from chatbot.access import UserHistory
from chatbot.conversations import PAGE_SIZE, SEARCH_RESULTS, clean_title, recent_enough
from chatbot.errors import error_code
from chatbot.memory import remember
from chatbot.store import Dialog, DialogType
from chatbot.store.base import Conversation, SearchResults, conversation_title

log = logging.getLogger(__name__)

_URL_KEY = "c"  # ?c=<conversation id>


class ChatSession:
    """The chat of the signed-in (or locally named) user in this browser session: the open
    conversation (its id is in the URL), its dialogs and memory, and the conversation list."""

    def __init__(self, history: UserHistory) -> None:
        user_id = history.user_id
        state = st.session_state
        if state.get("chat_user") != user_id:
            # Another user in the same browser tab: nothing of the previous one may remain.
            state.chat_user = user_id
            state.chat_dialogs = []
            state.chat_notices = {}
            state.chat_session_id = str(uuid.uuid4())
            state.chat_conversation = None  # the open conversation's id, once decided
            state.chat_reopened = 0
            state.chat_memory = []
            state.chat_told = set()
            state.chat_list = None  # the conversation list read so far, newest first
            state.chat_list_cursor = None
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
    def conversation_id(self) -> str:
        return st.session_state.chat_conversation

    @property
    def title(self) -> str:
        """The open conversation's title: as listed, else from its first question."""
        listed = st.session_state.chat_list or []
        for conversation in listed:
            if conversation.conversation_id == self.conversation_id:
                return conversation.title
        first = self.dialogs[0] if self.dialogs else None
        return conversation_title(first.type, first.body) if first else ""

    @property
    def files(self) -> list[Dialog]:
        """The open conversation's summarised files, whose text its follow-ups may use."""
        return [d for d in self.dialogs if d.type == DialogType.DOCUMENT and d.document_text]

    @property
    def reopened(self) -> int:
        """How many dialogs the conversation reopened by itself on arrival holds."""
        return st.session_state.chat_reopened

    def follow_url(self, days: int) -> bool:
        """Open the conversation the URL names; on arrival without one, the newest if it
        was active in the last ``days`` days and not left by "New chat", else a new one.
        The URL names the open conversation once it has a dialog, so a reload or a bookmark
        returns to it.
        False if the store could not be read (the chat goes on, empty)."""
        wanted = st.query_params.get(_URL_KEY)
        if wanted and wanted != self.conversation_id:
            return self.open(wanted)
        if self.conversation_id is None:
            return self._reopen_recent(days)
        return True

    def _reopen_recent(self, days: int) -> bool:
        self._start(str(uuid.uuid4()), [])
        try:
            page = self.listing()
            started = self.history.chat_start()
        except Exception as error:  # the chat still works without its past
            log.warning("reading the conversations failed: %s", error_code(error))
            return False
        newest = page[0] if page else None
        if newest is None or not recent_enough(newest, days, datetime.now(UTC)):
            return True
        if started is not None and newest.updated_at <= started:
            return True  # the user left it with "New chat"
        if not self.open(newest.conversation_id):
            return False
        st.session_state.chat_reopened = len(self.dialogs)
        return True

    def open(self, conversation_id: str) -> bool:
        """Show a conversation and restore its memory; False if it could not be read."""
        try:
            dialogs = self.history.conversation(conversation_id)
        except Exception as error:
            log.warning("opening a conversation failed: %s", error_code(error))
            self._start(conversation_id, [])
            st.query_params[_URL_KEY] = conversation_id  # still in the URL: a reload tries again
            return False
        self._start(conversation_id, dialogs)
        return True

    def _start(self, conversation_id: str, dialogs: list[Dialog]) -> None:
        self.dialogs[:] = [dialog for dialog in dialogs if not dialog.superseded_by]
        self.notices.clear()
        self._remember_all()
        st.session_state.chat_conversation = conversation_id
        st.session_state.chat_reopened = 0
        # A conversation with dialogs is in the URL; a new one joins it with its first
        # dialog (``add``): a first visit draws its page without touching the URL.
        if dialogs:
            st.query_params[_URL_KEY] = conversation_id
        elif _URL_KEY in st.query_params:
            del st.query_params[_URL_KEY]

    def _remember_all(self) -> None:
        self.memory.clear()
        for dialog in self.dialogs:
            remember(self.memory, dialog)

    def listing(self) -> list[Conversation]:
        """The user's conversations read so far (the first page, read once a session)."""
        if st.session_state.chat_list is None:
            page = self.history.conversations(PAGE_SIZE)
            st.session_state.chat_list = page.conversations
            st.session_state.chat_list_cursor = page.cursor
        return st.session_state.chat_list

    @property
    def more_listed(self) -> bool:
        """Whether the store has older conversations than those listed."""
        return st.session_state.chat_list_cursor is not None

    def list_more(self) -> None:
        page = self.history.conversations(PAGE_SIZE, st.session_state.chat_list_cursor)
        listed = {c.conversation_id for c in st.session_state.chat_list}
        st.session_state.chat_list += [
            c for c in page.conversations if c.conversation_id not in listed
        ]
        st.session_state.chat_list_cursor = page.cursor

    def search(self, text: str) -> SearchResults:
        """The user's dialogs matching ``text``: read once per text and per turn, not on
        every run of the page while the words stay in the box."""
        found: dict[str, SearchResults] = st.session_state.setdefault("chat_found", {})
        if text not in found:
            found.clear()
            found[text] = self.history.search(text, SEARCH_RESULTS)
        return found[text]

    def first_notice(self, key: str) -> bool:
        """True the first time ``key`` is asked for in this session: a notice shown once."""
        told: set[str] = st.session_state.chat_told
        if key in told:
            return False
        told.add(key)
        return True

    def add(self, dialog: Dialog, notice: str | None = None) -> None:
        """A finished turn: on screen, in the memory if it belongs to the conversation, and
        its conversation first in the list; or a newer copy of a dialog shown."""
        if notice:
            self.notices[dialog.request_id] = notice
        shown = [d.request_time for d in self.dialogs]
        if dialog.request_time in shown:  # the same dialog: continued, or rated
            self.dialogs[shown.index(dialog.request_time)] = dialog
            self._remember_all()
            return
        self.dialogs.append(dialog)
        remember(self.memory, dialog)
        st.query_params[_URL_KEY] = self.conversation_id
        st.session_state.pop("chat_found", None)  # a search again sees this turn
        listed: list[Conversation] | None = st.session_state.chat_list
        if listed is not None:
            known = next((c for c in listed if c.conversation_id == self.conversation_id), None)
            title = known.title if known else conversation_title(dialog.type, dialog.body)
            listed[:] = [
                Conversation(dialog.user_id, self.conversation_id, title, dialog.request_time),
                *(c for c in listed if c.conversation_id != self.conversation_id),
            ]

    def new_chat(self) -> bool:
        """A new, empty conversation; remembered so that arriving again does not reopen the
        last one. Returns False if the store could not record it."""
        self._start(str(uuid.uuid4()), [])
        st.session_state.chat_session_id = str(uuid.uuid4())
        try:
            self.history.set_chat_start(datetime.now(UTC))
        except Exception as error:
            log.warning("recording a new chat failed: %s", error_code(error))
            return False
        return True

    def rename(self, conversation_id: str, typed: str) -> str:
        """Rename a conversation to what the user typed; the title kept ("" if none)."""
        title = clean_title(typed)
        if title:
            self.history.rename_conversation(conversation_id, title)
            st.session_state.chat_list = [
                c._replace(title=title) if c.conversation_id == conversation_id else c
                for c in self.listing()
            ]
        return title

    def delete(self, conversation_id: str) -> int:
        """Delete a conversation (queued dialogs too); a new chat if it was the open one."""
        count = self.history.delete_conversation(conversation_id)
        st.session_state.chat_list = [
            c for c in self.listing() if c.conversation_id != conversation_id
        ]
        if conversation_id == self.conversation_id:
            self.new_chat()
        return count

    def clear(self) -> None:
        """Forget everything shown and listed: after the user's history was deleted."""
        self._start(str(uuid.uuid4()), [])
        st.session_state.chat_list = []
        st.session_state.chat_list_cursor = None

    # The page's one-shot states, kept across reruns: a dialog box, a report, a click to
    # ask again or to continue.

    @property
    def confirming_delete(self) -> bool:
        """Whether the delete-my-history dialog is open (a full rerun must find it open)."""
        return st.session_state.get("chat_confirming_delete", False)

    def open_delete(self) -> None:
        st.session_state.chat_confirming_delete = True

    def close_delete(self) -> None:
        st.session_state.chat_confirming_delete = False

    @property
    def confirming_conversation_delete(self) -> str | None:
        """The conversation whose delete-confirmation dialog is open, if any."""
        return st.session_state.get("chat_deleting_conversation")

    def open_conversation_delete(self, conversation_id: str) -> None:
        st.session_state.chat_deleting_conversation = conversation_id

    def close_conversation_delete(self) -> None:
        st.session_state.chat_deleting_conversation = None

    def deleted(self, count: int) -> None:
        """Remember how many dialogs were deleted, to report after the rerun."""
        st.session_state.chat_deleted = count

    def take_deleted(self) -> int | None:
        return st.session_state.pop("chat_deleted", None)

    def ask_replace(self, request_time: str, question: str | None = None) -> None:
        """A Regenerate click (``question`` None) or an edited question under the last
        dialog: the next run asks again, and the dialog is replaced."""
        st.session_state.chat_replace = (request_time, question)

    def take_replace(self) -> tuple[Dialog, str] | None:
        """The dialog to replace and the question to ask instead, once; the dialog leaves
        the screen and the memory now. None if it is no longer the last one."""
        request_time, question = st.session_state.pop("chat_replace", (None, None))
        last = self.dialogs[-1] if self.dialogs else None
        if last is None or last.request_time != request_time:
            return None
        self.dialogs.pop()
        self._remember_all()
        return last, question or last.body

    def ask_continue(self, request_time: str) -> None:
        """A Continue click under a cut answer, for the next run to carry on."""
        st.session_state.chat_continue = request_time

    def take_continue(self) -> Dialog | None:
        """The cut answer a Continue click asked for, once; None if it is no longer the
        last one on screen."""
        request_time = st.session_state.pop("chat_continue", None)
        last = self.dialogs[-1] if self.dialogs else None
        return last if last is not None and last.request_time == request_time else None
