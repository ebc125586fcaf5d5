"""Streamlit glue: how the chat page draws dialogs, a streaming turn, and its dialogs boxes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatbot.access import Receipt, UserHistory
from chatbot.config import Settings
from chatbot.conversation import Turn
from chatbot.errors import classify, error_code
from chatbot.i18n import language_of, t
from chatbot.modes import DEFAULT_MODE
from chatbot.safety import defuse_images, defuse_stream
from chatbot.store import Dialog, DialogType, Status, StoreError
from chatbot.store.outbox import Saved
from chatbot.streaming import Blocks
from chatbot.ui import resources
from chatbot.ui.session import ChatSession

_FEEDBACK = {"up": 1, "down": 0}


def shown_question(kind: str, body: str) -> str:
    return f"📎 {body}" if kind == DialogType.DOCUMENT else body


class ChatView:
    def __init__(
        self,
        chat: ChatSession,
        history: UserHistory,
        settings: Settings,
        lang: str,
    ) -> None:
        self.chat = chat
        self.history = history
        self.settings = settings
        self.lang = lang

    def show(self, dialog: Dialog, last: bool) -> None:
        """A stored dialog, with its notice, usage and feedback."""
        with st.chat_message("user"):
            st.markdown(defuse_images(shown_question(dialog.type, dialog.body)))
        with st.chat_message("assistant"):
            if dialog.msg:
                st.markdown(defuse_images(dialog.msg))
            self._details(dialog, last)

    def _details(self, dialog: Dialog, last: bool) -> None:
        """Under an answer: its status or notice, usage and timings, and the feedback."""
        self._show_status(dialog, last)
        if dialog.output_tokens is not None:
            usage = t(
                "usage",
                self.lang,
                input=dialog.input_tokens,
                output=dialog.output_tokens,
                ttft=dialog.ttft_ms,
                latency=dialog.latency_ms,
            )
            if dialog.cache_read_tokens or dialog.cache_write_tokens:
                read, write = dialog.cache_read_tokens or 0, dialog.cache_write_tokens or 0
                usage += " · " + t("usage_cache", self.lang, read=read, write=write)
            st.caption(usage)
        if dialog.status == Status.COMPLETE:
            st.feedback(
                "thumbs",
                key=f"feedback-{dialog.request_id}",
                default=_FEEDBACK.get(dialog.feedback or ""),
                on_change=self._save_feedback,
                args=(dialog,),
            )

    def _show_status(self, dialog: Dialog, last: bool) -> None:
        # This session's turns carry the precise notice; replayed ones only their status.
        notice = self.chat.notices.get(dialog.request_id)
        if dialog.status == Status.STOPPED:
            st.caption(notice or t("stopped", self.lang))
        elif dialog.status == Status.INCOMPLETE:
            st.error(notice or t("stream_failed", self.lang), icon="⚠️")
        elif dialog.status == Status.ERROR:
            st.error(notice or t("no_answer", self.lang), icon="⚠️")
            if last and dialog.type == DialogType.TEXT:
                st.button(
                    t("retry", self.lang),
                    key=f"retry-{dialog.request_id}",
                    icon="🔁",
                    on_click=self.chat.ask_again,
                    args=(dialog.body, dialog.mode or DEFAULT_MODE),
                )
        elif notice:  # a complete answer that could not be saved yet
            st.warning(notice, icon="💾")

    def _save_feedback(self, dialog: Dialog) -> None:
        choice = st.session_state[f"feedback-{dialog.request_id}"]
        value = None if choice is None else ("up" if choice else "down")
        if self.history.rate(dialog.request_time, value) == Saved.LOST:
            st.toast(t("save_lost", self.lang))

    def run(self, turn: Turn) -> None:
        """Stream ``turn`` into the page, store it (also when the user stops it), then show
        what ``show`` would: drawn in place, since a rerun here would drop the stream's last
        update from Streamlit's send queue and redraw the answer a beat later."""
        with st.chat_message("user"):
            st.markdown(defuse_images(shown_question(turn.kind, turn.question)))
        with st.chat_message("assistant"):
            typing, answer = st.empty(), st.empty()
            typing.caption(t("typing", self.lang))
            try:
                # Finished blocks go once, as elements of their own; only the open block is
                # re-sent, paced (chatbot.streaming): linear bytes, where one write_stream of
                # the whole answer re-sends all of it on every chunk.
                with answer.container():
                    pieces = _after_typing(defuse_stream(turn.stream()), typing)
                    for block in Blocks(pieces):
                        st.write_stream(block)
            finally:
                # Reached on a stop too, where any Streamlit call may raise again: nothing
                # here calls Streamlit before the partial answer is saved and listed.
                turn.stop()  # whatever ended write_stream before the stream's own end
                dialog = turn.to_dialog()
                receipt = self.history.save(dialog)
                self.chat.add(dialog, self._notice(turn, receipt))
            # The blocks were a preview: now the answer as one element, exactly as a replay
            # draws it (lists across paragraphs, post-processing), in one update.
            if dialog.msg:
                answer.markdown(defuse_images(dialog.msg))
            else:
                answer.empty()
            self._details(dialog, last=True)

    def _notice(self, turn: Turn, receipt: Receipt) -> str | None:
        """What to say under the answer: the error, the stop, how it was saved."""
        lang = language_of(turn.question, self.lang)
        notices = []
        if turn.error is not None:
            notices.append(self._problem(turn.error, lang, turn.context.model_id))
        elif receipt.dialog.status == Status.STOPPED:
            notices.append(t("stopped", lang))
        if receipt.dialog.trimmed_chars:
            notices.append(t("save_trimmed", lang, chars=receipt.dialog.trimmed_chars))
        if receipt.saved != Saved.STORED:
            notices.append(t(f"save_{receipt.saved}", lang))
        return "\n\n".join(notices) or None

    def _problem(self, error: Exception, lang: str, model_id: str) -> str:
        """What went wrong with a Bedrock call, and what to do, in ``lang``."""
        region = resources.bedrock_region(self.settings)
        return t(
            classify(error, region), lang, code=error_code(error), model=model_id, region=region
        )

    def model_list(self, model_id: str) -> None:
        """The original's "list models": what Bedrock offers in the region, on request."""
        with st.expander(t("models", self.lang)):
            if not st.button(t("list_models", self.lang), key="list_models"):
                return
            try:
                models = resources.foundation_models(self.settings.bedrock_region)
            except Exception as error:  # the same failures as a turn, with the same messages
                st.error(self._problem(error, self.lang, model_id))
                return
            st.dataframe(models, hide_index=True)

    def confirm_delete(self) -> None:
        """The delete-my-history dialog, while it is open.

        Whether it is open lives in session state, so a full rerun (not only the dialog's own
        fragment rerun) still finds it open; closing it any way clears the flag.
        """
        if not self.chat.confirming_delete:
            return

        @st.dialog(t("delete_confirm_title", self.lang), on_dismiss=self.chat.close_delete)
        def dialog() -> None:
            st.write(t("delete_confirm", self.lang, user=self.history.user_id))
            with st.container(horizontal=True):
                if st.button(t("delete_yes", self.lang), type="primary", key="delete_yes"):
                    try:
                        count = self.history.delete_all()
                    except StoreError as error:
                        st.error(t("delete_failed", self.lang, detail=error))
                        return
                    self.chat.clear()
                    self.chat.deleted(count)
                    self.chat.close_delete()
                    st.rerun()
                if st.button(
                    t("cancel", self.lang), key="delete_cancel", on_click=self.chat.close_delete
                ):
                    st.rerun()

        dialog()


def _after_typing(pieces: Iterable[str], typing: DeltaGenerator) -> Iterator[str]:
    """Pass ``pieces`` through, removing the typing indicator when the first one arrives
    (once: each removal is a message to the browser, 81 bytes a chunk)."""
    shown = True
    for piece in pieces:
        if shown:
            typing.empty()
            shown = False
        yield piece
    if shown:
        typing.empty()
