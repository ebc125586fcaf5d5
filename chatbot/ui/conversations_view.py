"""Streamlit glue: the sidebar's conversations: search, the list by age, and the open
conversation's rename, export and delete."""

from __future__ import annotations

from functools import partial

import streamlit as st

from chatbot.conversations import (
    MAX_TITLE_CHARS,
    as_json,
    as_markdown,
    file_stem,
    grouped,
    local_now,
    snippet,
)
from chatbot.errors import error_code
from chatbot.i18n import t
from chatbot.safety import plain_label
from chatbot.store import StoreError
from chatbot.store.base import Conversation, MissingConversation, conversation_of
from chatbot.ui.session import ChatSession


class ConversationsView:
    def __init__(self, chat: ChatSession, lang: str) -> None:
        self.chat = chat
        self.lang = lang

    def show(self, time_zone: str) -> None:
        """The search box and the list, once the user has a conversation to find."""
        try:
            listed = self.chat.listing()
        except Exception as error:  # the chat works without the list
            st.caption(t("conversations_unavailable", self.lang, code=error_code(error)))
            listed = []
        if listed:
            self._search_box()
            self._conversation_list(listed, time_zone)
        self._manage_conversation()

    def _search_box(self) -> None:
        """Search my conversations: each match opens its conversation."""
        text = st.text_input(
            t("search", self.lang), key="search", icon="🔎", placeholder=t("search_hint", self.lang)
        ).strip()
        if not text:
            return
        try:
            results = self.chat.search(text)
        except Exception as error:  # the chat works without search
            st.caption(t("search_failed", self.lang, code=error_code(error)))
            return
        if not results.dialogs:
            st.caption(t("search_none", self.lang))
        for dialog in results.dialogs:
            st.button(
                plain_label(snippet(dialog, text)),
                key=f"found-{dialog.request_id}",
                type="tertiary",
                on_click=self._open,
                args=(conversation_of(dialog),),
                width="stretch",
            )
        if not results.complete:
            st.caption(t("search_bounded", self.lang, count=results.searched))

    def _conversation_list(self, listed: list[Conversation], time_zone: str) -> None:
        """The sidebar's conversations, newest first under their ages; the open one marked.
        A click opens one (and puts it in the URL)."""
        for age, conversations in grouped(listed, local_now(time_zone)):
            st.caption(t(age, self.lang))
            for conversation in conversations:
                current = conversation.conversation_id == self.chat.conversation_id
                st.button(  # a label is Markdown: the title, typed by the user, is not
                    plain_label(conversation.title) or t("untitled", self.lang),
                    key=f"conversation-{conversation.conversation_id}",
                    type="primary" if current else "tertiary",
                    on_click=self._open,
                    args=(conversation.conversation_id,),
                    width="stretch",
                )
        if self.chat.more_listed:
            st.button(
                t("conversations_more", self.lang),
                key="conversations_more",
                on_click=self.chat.list_more,
            )

    def _open(self, conversation_id: str) -> None:
        if not self.chat.open(conversation_id):
            st.toast(t("history_unavailable", self.lang))

    def _manage_conversation(self) -> None:
        """Rename or delete the open conversation (once it has a dialog)."""
        if not self.chat.dialogs:
            return
        conversation_id = self.chat.conversation_id
        with st.popover(
            t("conversation_manage", self.lang), icon=":material/more_horiz:", width="stretch"
        ):
            with st.form("rename", border=False):
                st.text_input(
                    t("conversation_title", self.lang), max_chars=MAX_TITLE_CHARS, key="rename_to"
                )
                # A callback, run before the page: the list drawn after it has the new title.
                st.form_submit_button(
                    t("rename", self.lang), on_click=self._rename, args=(conversation_id,)
                )
            # Built on click (a callable), not on every run of the page.
            title, dialogs = self.chat.title, list(self.chat.dialogs)
            name = file_stem(title)
            for label, data, extension, mime in (
                (
                    "conversation_markdown",
                    partial(as_markdown, title, dialogs),
                    "md",
                    "text/markdown",
                ),
                (
                    "conversation_json",
                    partial(as_json, title, conversation_id, dialogs),
                    "json",
                    "application/json",
                ),
            ):
                st.download_button(
                    t(label, self.lang),
                    data=data,
                    file_name=f"{name}.{extension}",
                    mime=mime,
                    icon="⬇️",
                    on_click="ignore",
                    key=f"export_{extension}",
                )
            st.button(
                t("conversation_delete", self.lang),
                icon="🗑️",
                key="conversation_delete",
                on_click=self.chat.open_conversation_delete,
                args=(conversation_id,),
            )

    def _rename(self, conversation_id: str) -> None:
        try:
            if self.chat.rename(conversation_id, st.session_state.rename_to):
                st.toast(t("renamed", self.lang))
        except MissingConversation:  # its first dialog is still on its way to the store
            st.toast(t("rename_not_yet", self.lang))
        except StoreError as error:
            st.toast(t("rename_failed", self.lang, detail=error))

    def confirm_conversation_delete(self) -> None:
        """The delete-this-conversation dialog, while it is open."""
        conversation_id = self.chat.confirming_conversation_delete
        if conversation_id is None:
            return

        @st.dialog(
            t("conversation_delete_title", self.lang),
            on_dismiss=self.chat.close_conversation_delete,
        )
        def dialog() -> None:
            st.write(t("conversation_delete_confirm", self.lang))
            with st.container(horizontal=True):
                if st.button(t("delete_yes", self.lang), type="primary", key="conversation_yes"):
                    try:
                        count = self.chat.delete(conversation_id)
                    except StoreError as error:
                        st.error(t("delete_failed", self.lang, detail=error))
                        return
                    self.chat.deleted(count)
                    self.chat.close_conversation_delete()
                    st.rerun()
                if st.button(
                    t("cancel", self.lang),
                    key="conversation_cancel",
                    on_click=self.chat.close_conversation_delete,
                ):
                    st.rerun()

        dialog()
