"""The chat page: sidebar, replay, input, and the streamed answer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from chatbot.access import UserHistory
from chatbot.conversation import (
    FILE_CONTEXT_CHARS,
    Turn,
    TurnContext,
    chat_turn,
    continue_turn,
    document_turn,
)
from chatbot.documents import MAX_FILE_BYTES, SUPPORTED_EXTENSIONS, DocumentError, extract_text
from chatbot.i18n import language_of, t, time_zone
from chatbot.inputs import clean_question
from chatbot.memory import window
from chatbot.modes import DEFAULT_MODE, MODES
from chatbot.pricing import price_of
from chatbot.store import Dialog, StoreError
from chatbot.ui import auth, resources
from chatbot.ui.chat_view import ChatView
from chatbot.ui.conversations_view import ConversationsView
from chatbot.ui.session import ChatSession

if TYPE_CHECKING:  # LangChain's language models load with the first model (resources.warm_up)
    from langchain_core.language_models import BaseChatModel

lang = resources.language()
settings = resources.settings()
identity = auth.current()
try:
    store = resources.dialog_store(settings)
except StoreError as error:
    st.error(t("config_error", lang, detail=error))
    st.stop()
outbox = resources.outbox(settings)
history = UserHistory(store, identity, outbox)
chat = ChatSession(history)

# The outbox writes in the background; a page run only reports, each problem once a session.
if outbox.problem and chat.first_notice(f"outbox_{outbox.problem}"):
    st.warning(t(f"outbox_{outbox.problem}", lang), icon="💾")
if rejected := history.take_rejections():
    st.warning(t("rejected_saves", lang, count=rejected), icon="💾")
if waiting := history.pending():
    st.caption(t("pending_saves", lang, count=waiting))
if not chat.follow_url(settings.chat_history_days):
    st.warning(t("history_unavailable", lang))
if resources.on_community_cloud() and not settings.chat_history_table:
    st.warning(t("cloud_sqlite_warning", lang))
view = ChatView(chat, history, settings, lang)
conversations = ConversationsView(chat, lang)

with st.sidebar:
    mode = MODES[
        st.selectbox(
            t("mode", lang), list(MODES), format_func=lambda m: MODES[m].label(lang), key="mode"
        )
    ]
    model_id = st.selectbox(t("model", lang), settings.model_choices, key="model_id")
    view.model_list(model_id)
    memory_state = st.empty()  # filled at the end, once this run's turns are in the memory
    if st.button(t("new_chat", lang), help=t("new_chat_help", lang), icon="✏️", key="new_chat"):
        if not chat.new_chat():
            st.toast(t("history_unavailable", lang))
        st.rerun()
    # Filled at the end too, so that a conversation started by this run is listed.
    conversation_area = st.container()
    st.button(t("delete_history", lang), icon="🗑️", on_click=chat.open_delete, key="delete_history")
view.confirm_delete()
conversations.confirm_conversation_delete()
if (deleted := chat.take_deleted()) is not None:
    st.success(t("deleted", lang, count=deleted), icon="🗑️")
if chat.reopened:
    st.caption(t("reopened", lang, days=settings.chat_history_days, count=chat.reopened))


def model() -> BaseChatModel:
    """Built inside the turn, so a client that cannot be built fails the turn, not the page."""
    return resources.chat_model(settings.bedrock_region, model_id, settings.chat_max_output_tokens)


context = TurnContext(
    model=model,
    model_id=model_id,
    user_id=identity.user_id,
    session_id=chat.session_id,
    memory=chat.memory,
    window_k=settings.chat_window_k,
    prompt_cache=settings.chat_prompt_cache,
    conversation_id=chat.conversation_id,
    files=chat.files,
    price=price_of(model_id, settings.price_overrides),
)


def summary_turn(upload: UploadedFile) -> Turn | None:
    try:
        extracted = extract_text(upload.name, upload.getvalue())
    except DocumentError as error:
        st.error(t(f"document_{error.kind}", lang, limit_mb=MAX_FILE_BYTES // 2**20), icon="📎")
        return None
    if extracted.limit:  # the text was cut short: say by which limit
        chars, pages = len(extracted.text), extracted.pages
        st.info(t(f"document_{extracted.limit}", lang, chars=chars, pages=pages))
    if len(extracted.text) > FILE_CONTEXT_CHARS:
        st.info(t("document_follow_ups_cut", lang, chars=FILE_CONTEXT_CHARS), icon="📎")
    return document_turn(context, upload.name, extracted.text)


# Read before the dialogs are drawn (the input stays pinned at the bottom all the same), so
# that a Retry button is offered only when no new question follows the failed one.
submitted = st.chat_input(
    t("input_placeholder", lang),
    accept_file=True,
    file_type=list(SUPPORTED_EXTENSIONS),
    max_upload_size=MAX_FILE_BYTES // 2**20,
    submit_mode="stop",
)
question, files, turn_mode, cut, replaced = "", [], mode, None, None
if submitted is not None:
    question, files = clean_question(submitted.text or ""), list(submitted.files)
elif replacing := chat.take_replace():  # Retry, Regenerate, or an edited question
    replaced, question = replacing
    turn_mode = MODES.get(replaced.mode or DEFAULT_MODE, mode)
else:
    cut = chat.take_continue()

# A continued dialog is drawn by its turn: the question, the answer so far, what follows.
shown = chat.dialogs[:-1] if cut else chat.dialogs
for index, dialog in enumerate(shown):
    view.show(dialog, last=index == len(shown) - 1 and not (question or files or cut))

# Each turn, with the dialog it replaces (asked again, or its question edited), if any.
turns: list[tuple[Turn, Dialog | None]] = [
    (turn, None) for upload in files if (turn := summary_turn(upload))
]
if cut:
    turns.append((continue_turn(context, cut), None))
if len(question) > settings.chat_max_input_chars:
    # Checked here rather than with chat_input's max_chars, which would cut a pasted text
    # silently. Refused before any model call, and shown back so nothing typed is lost.
    limit = settings.chat_max_input_chars
    st.error(t("input_too_long", language_of(question, lang), length=len(question), limit=limit))
    st.code(question, language=None, wrap_lines=True)
elif question:
    turns.append((chat_turn(context, turn_mode, question), replaced))
for turn, replaces in turns:
    view.run(turn, replaces)

if mode.uses_history:
    used = len(window(chat.memory, settings.chat_window_k)) // 2
    memory_state.caption(t("memory_caption", lang, k=settings.chat_window_k, used=used))
else:
    memory_state.caption(t("mode_no_memory", lang))
with conversation_area:
    conversations.show(time_zone(st.context.timezone))
resources.warm_up()  # once per process, after the page is drawn
