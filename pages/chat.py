"""The chat page: sidebar, replay, input, and the streamed answer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import streamlit as st
from langchain_core.language_models import BaseChatModel
from streamlit.delta_generator import DeltaGenerator
from streamlit.runtime.uploaded_file_manager import UploadedFile

from chatbot import auth, resources
from chatbot.access import UserHistory
from chatbot.chat_session import ChatSession
from chatbot.conversation import Saved, Turn, chat_turn, document_turn
from chatbot.documents import MAX_FILE_BYTES, SUPPORTED_EXTENSIONS, DocumentError, extract_text
from chatbot.errors import classify, error_code
from chatbot.i18n import language_of, t
from chatbot.inputs import clean_question
from chatbot.modes import DEFAULT_MODE, MODES
from chatbot.safety import defuse_images, defuse_stream
from chatbot.store import Dialog, DialogType, Status, StoreError

lang = resources.language()
settings = resources.settings()
identity = auth.current()
user_id = identity.user_id
try:
    store = resources.dialog_store(settings)
    outbox = resources.outbox(settings.chat_outbox_db)
except StoreError as error:
    st.error(t("config_error", lang, detail=error))
    st.stop()
history = UserHistory(store, identity)

# Turns a failed write left behind go to the store as soon as it takes them again.
if outbox.drain(store) and (waiting := outbox.pending(user_id)):
    st.caption(t("pending_saves", lang, count=waiting))
chat = ChatSession(history)
if not chat.replay(settings.chat_history_days):
    st.warning(t("history_unavailable", lang))
if resources.on_community_cloud() and not settings.chat_history_table:
    st.warning(t("cloud_sqlite_warning", lang))


def _confirming_delete(value: bool) -> None:
    st.session_state.confirming_delete = value


# The open dialog is kept in session state, so a full rerun (not only the dialog's own
# fragment rerun) still finds it open; closing it any way clears the flag.
@st.dialog(t("delete_confirm_title", lang), on_dismiss=lambda: _confirming_delete(False))
def confirm_delete() -> None:
    st.write(t("delete_confirm", lang, user=user_id))
    with st.container(horizontal=True):
        if st.button(t("delete_yes", lang), type="primary", key="delete_yes"):
            try:
                count = history.delete_all()
            except StoreError as error:
                st.error(t("delete_failed", lang, detail=error))
                return
            chat.clear()
            st.session_state.deleted_count = count
            _confirming_delete(False)
            st.rerun()
        if st.button(
            t("cancel", lang), key="delete_cancel", on_click=_confirming_delete, args=(False,)
        ):
            st.rerun()


if (deleted := st.session_state.pop("deleted_count", None)) is not None:
    st.success(t("deleted", lang, count=deleted), icon="🗑️")

with st.sidebar:
    mode_id = st.selectbox(
        t("mode", lang), list(MODES), format_func=lambda m: MODES[m].label(lang), key="mode"
    )
    model_id = st.selectbox(t("model", lang), settings.model_choices, key="model_id")
    mode = MODES[mode_id]
    if mode.uses_history:
        exchanges = len(chat.memory) // 2
        st.caption(t("memory_caption", lang, k=settings.chat_window_k, used=exchanges))
    else:
        st.caption(t("mode_no_memory", lang))
    if st.button(t("new_chat", lang), help=t("new_chat_help", lang), icon="🧹"):
        if not chat.new_chat():
            st.toast(t("history_unavailable", lang))
        st.rerun()
    st.button(
        t("delete_history", lang), icon="🗑️", on_click=_confirming_delete, args=(True,)
    )
if st.session_state.get("confirming_delete"):
    confirm_delete()

if chat.replayed:
    st.caption(t("replayed", lang, days=settings.chat_history_days, count=chat.replayed))


def _save_feedback(dialog: Dialog) -> None:
    choice = st.session_state[f"feedback-{dialog.request_id}"]
    value = None if choice is None else ("up" if choice else "down")
    try:
        history.set_feedback(dialog.request_time, value)
    except Exception:
        st.toast(t("save_failed", lang))


def _retry(question: str, mode_id: str) -> None:
    st.session_state.pending_question = (question, mode_id)


def show_dialog(dialog: Dialog, last: bool) -> None:
    with st.chat_message("user"):
        body = f"📎 {dialog.body}" if dialog.type == DialogType.DOCUMENT else dialog.body
        st.markdown(defuse_images(body))
    with st.chat_message("assistant"):
        if dialog.msg:
            st.markdown(defuse_images(dialog.msg))
        notice = chat.notices.get(dialog.request_id)
        if dialog.status == Status.STOPPED:
            st.caption(notice or t("stopped", lang))
        elif dialog.status != Status.COMPLETE:
            st.error(notice or t("unexpected", lang, code=dialog.status), icon="⚠️")
            if last and dialog.type == DialogType.TEXT:
                st.button(
                    t("retry", lang),
                    key=f"retry-{dialog.request_id}",
                    icon="🔁",
                    on_click=_retry,
                    args=(dialog.body, dialog.mode or DEFAULT_MODE),
                )
        elif notice:  # a complete answer that could not be saved yet
            st.warning(notice, icon="💾")
        if dialog.output_tokens is not None:
            st.caption(
                t(
                    "usage",
                    lang,
                    input=dialog.input_tokens,
                    output=dialog.output_tokens,
                    ttft=dialog.ttft_ms,
                    latency=dialog.latency_ms,
                )
            )
        if dialog.status == Status.COMPLETE:
            key = f"feedback-{dialog.request_id}"
            default = {"up": 1, "down": 0}.get(dialog.feedback or "")
            st.feedback(
                "thumbs", key=key, default=default, on_change=_save_feedback, args=(dialog,)
            )


def _after_typing(pieces: Iterable[str], typing: DeltaGenerator) -> Iterator[str]:
    """Pass ``pieces`` through, removing the typing indicator when the first one arrives."""
    for piece in pieces:
        typing.empty()
        yield piece
    typing.empty()


def run_turn(turn: Turn, shown_question: str) -> None:
    with st.chat_message("user"):
        st.markdown(defuse_images(shown_question))
    with st.chat_message("assistant"):
        typing = st.empty()
        typing.caption(t("typing", lang))
        try:
            st.write_stream(_after_typing(defuse_stream(turn.stream()), typing))
        finally:
            # Reached on a stop too: the partial answer is saved before anything else runs.
            dialog = turn.finish(history, chat.memory, outbox)
            chat.add(dialog, _notice(turn, dialog))


def _notice(turn: Turn, dialog: Dialog) -> str | None:
    """What to say under the answer: the error, the stop, an unsaved dialog."""
    turn_lang = language_of(turn.question, lang)
    notices = []
    if turn.error is not None:
        region = resources.bedrock_region(settings)
        problem = classify(turn.error, region)
        code = error_code(turn.error)
        notices.append(t(problem, turn_lang, code=code, model=turn.model_id, region=region))
    elif dialog.status == Status.STOPPED:
        notices.append(t("stopped", turn_lang))
    if turn.saved == Saved.QUEUED:
        notices.append(t("save_queued", turn_lang))
    elif turn.saved == Saved.LOST:
        notices.append(t("save_failed", turn_lang))
    return "\n\n".join(notices) or None


def model() -> BaseChatModel:
    return resources.chat_model(settings.bedrock_region, model_id)


def summary_turn(upload: UploadedFile) -> Turn | None:
    try:
        extracted = extract_text(upload.name, upload.getvalue())
    except DocumentError as error:
        st.error(t(f"document_{error.kind}", lang, limit_mb=MAX_FILE_BYTES // 2**20), icon="📎")
        return None
    if extracted.truncated:
        st.info(t("document_truncated", lang, chars=len(extracted.text)))
    return document_turn(
        model=model,
        model_id=model_id,
        file_name=upload.name,
        text=extracted.text,
        user_id=user_id,
        session_id=chat.session_id,
    )


for index, dialog in enumerate(chat.dialogs):
    show_dialog(dialog, last=index == len(chat.dialogs) - 1)

submitted = st.chat_input(
    t("input_placeholder", lang),
    accept_file=True,
    file_type=list(SUPPORTED_EXTENSIONS),
    max_upload_size=MAX_FILE_BYTES // 2**20,
    submit_mode="stop",
)
question, files, turn_mode = "", [], mode
if submitted is not None:
    question, files = clean_question(submitted.text or ""), list(submitted.files)
elif pending := st.session_state.pop("pending_question", None):
    question, turn_mode = pending[0], MODES.get(pending[1], mode)

turns = [turn for upload in files if (turn := summary_turn(upload))]
if len(question) > settings.chat_max_input_chars:
    # Checked here rather than with chat_input's max_chars, which would cut a pasted text
    # silently. Refused before any model call, and shown back so nothing typed is lost.
    question_lang = language_of(question, lang)
    st.error(
        t(
            "input_too_long",
            question_lang,
            length=len(question),
            limit=settings.chat_max_input_chars,
        )
    )
    st.code(question, language=None, wrap_lines=True)
elif question:
    turns.append(
        chat_turn(
            model=model,
            model_id=model_id,
            mode=turn_mode,
            question=question,
            memory=chat.memory,
            window_k=settings.chat_window_k,
            user_id=user_id,
            session_id=chat.session_id,
        )
    )
for turn in turns:
    run_turn(turn, f"📎 {turn.question}" if turn.kind == DialogType.DOCUMENT else turn.question)
if turns:
    st.rerun()  # show the new dialogs the way every stored one is shown, with feedback
