"""Streamlit glue: how the chat page draws dialogs, a streaming turn, and its dialogs boxes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from chatbot.access import Receipt, UserHistory
from chatbot.config import Settings
from chatbot.conversation import Turn, can_continue
from chatbot.errors import classify, error_code
from chatbot.i18n import language_of, t
from chatbot.inputs import clean_question
from chatbot.safety import defuse_images, defuse_stream
from chatbot.store import Dialog, DialogType, Status, StoreError
from chatbot.store.base import (
    MAX_COMMENT_CHARS,
    FeedbackReason,
    Rating,
)
from chatbot.store.outbox import Saved
from chatbot.streaming import Blocks
from chatbot.ui import resources
from chatbot.ui.copy_button import copy_button
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
            if dialog.cost_microusd is not None:
                usage += " · " + self._cost(dialog.cost_microusd)
            st.caption(usage)
        if dialog.msg:
            copy_button(dialog.msg, self.lang, key=f"copy-{dialog.request_id}")
        if last and dialog.type == DialogType.TEXT and dialog.status != Status.ERROR:
            self._replace_controls(dialog)
        if dialog.status in (Status.COMPLETE, Status.CUT):
            st.feedback(
                "thumbs",
                key=f"feedback-{dialog.request_id}",
                default=_FEEDBACK.get(dialog.feedback or ""),
                on_change=self._save_feedback,
                args=(dialog,),
            )
            if st.session_state.get(f"feedback-{dialog.request_id}") == _FEEDBACK["down"]:
                self._why_down(dialog)

    def _why_down(self, dialog: Dialog) -> None:
        """After a 👎: an optional reason and comment, sent with the rating."""
        request = dialog.request_id
        with (
            st.expander(t("why_down", self.lang), expanded=not dialog.feedback_reason),
            st.form(f"why-{request}", border=False),
        ):
            st.selectbox(
                t("why_down_reason", self.lang),
                list(FeedbackReason),
                index=None,
                format_func=lambda reason: t(f"reason_{reason}", self.lang),
                key=f"why-reason-{request}",
            )
            st.text_area(
                t("why_down_comment", self.lang),
                max_chars=MAX_COMMENT_CHARS,
                key=f"why-comment-{request}",
            )
            st.form_submit_button(
                t("why_down_send", self.lang), on_click=self._save_reason, args=(dialog,)
            )

    def _cost(self, microusd: int) -> str:
        """An answer's cost in dollars, and in won when CHAT_KRW_PER_USD is set."""
        usd = microusd / 1_000_000
        rate = self.settings.chat_krw_per_usd
        if rate is None:
            return t("usage_cost", self.lang, usd=usd)
        return t("usage_cost_krw", self.lang, usd=usd, krw=usd * rate)

    def _replace_controls(self, dialog: Dialog) -> None:
        """Under the last answer: ask again, or edit the question and ask that; the turn
        replaced stays stored, marked, and leaves the conversation."""
        request = dialog.request_id
        with st.container(horizontal=True):
            st.button(
                t("regenerate", self.lang),
                key=f"regenerate-{request}",
                icon="🔄",
                on_click=self.chat.ask_replace,
                args=(dialog.request_time,),
            )
            with st.popover(t("edit", self.lang), icon="✏️"):
                st.text_area(
                    t("edit_question", self.lang), value=dialog.body, key=f"edit-{request}"
                )
                st.button(
                    t("edit_send", self.lang),
                    key=f"edit-send-{request}",
                    type="primary",
                    on_click=self._edit,
                    args=(dialog,),
                )

    def _edit(self, dialog: Dialog) -> None:
        question = clean_question(st.session_state[f"edit-{dialog.request_id}"])
        limit = self.settings.chat_max_input_chars
        if len(question) > limit:
            lang = language_of(question, self.lang)
            st.toast(t("input_too_long", lang, length=len(question), limit=limit))
        elif question:
            self.chat.ask_replace(dialog.request_time, question)

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
                    on_click=self.chat.ask_replace,
                    args=(dialog.request_time,),
                )
        elif dialog.status == Status.CUT:
            st.warning(notice or t("cut", self.lang), icon="✂️")
            if last and can_continue(dialog):
                st.button(
                    t("continue", self.lang),
                    key=f"continue-{dialog.request_id}",
                    icon="▶️",
                    on_click=self.chat.ask_continue,
                    args=(dialog.request_time,),
                )
        elif notice:  # a complete answer that could not be saved yet
            st.warning(notice, icon="💾")

    def _save_feedback(self, dialog: Dialog) -> None:
        choice = st.session_state[f"feedback-{dialog.request_id}"]
        value = None if choice is None else ("up" if choice else "down")
        self._rate(dialog, Rating(value))

    def _save_reason(self, dialog: Dialog) -> None:
        request = dialog.request_id
        comment = clean_question(st.session_state[f"why-comment-{request}"] or "")
        reason = st.session_state[f"why-reason-{request}"]
        self._rate(dialog, Rating("down", reason, comment or None))
        st.toast(t("why_down_thanks", self.lang), icon="🙏")

    def _rate(self, dialog: Dialog, rating: Rating) -> None:
        """Store a rating, and keep it on the dialog shown (a rerun draws it as given)."""
        if self.history.rate(dialog.request_time, rating) == Saved.LOST:
            st.toast(t("save_lost", self.lang))
        rated = dialog._replace(
            feedback=rating.feedback, feedback_reason=rating.reason, feedback_comment=rating.comment
        )
        self.chat.add(rated)

    def run(self, turn: Turn, replaces: Dialog | None = None) -> None:
        """Stream ``turn`` into the page, store it (also when the user stops it), then show
        what ``show`` would: drawn in place, since a rerun here would drop the stream's last
        update from Streamlit's send queue and redraw the answer a beat later. ``replaces``:
        the dialog this turn asks again, stored then as superseded by it."""
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
                    if turn.continues is not None:  # the answer so far, then what follows
                        st.markdown(defuse_images(turn.continues.msg))
                    pieces = _after_typing(defuse_stream(turn.stream()), typing)
                    for block in Blocks(pieces):
                        st.write_stream(block)
            finally:
                # Reached on a stop too, where any Streamlit call may raise again: nothing
                # here calls Streamlit before the partial answer is saved and listed.
                turn.stop()  # whatever ended write_stream before the stream's own end
                dialog = turn.to_dialog()
                receipt = self.history.save(dialog)
                if replaces is not None:
                    self.history.save(replaces._replace(superseded_by=dialog.request_id))
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
        elif receipt.dialog.status == Status.CUT:
            notices.append(t("cut", lang))
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
