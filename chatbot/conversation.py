"""One turn: the prompt, the streamed answer with its usage and timings, then the stored dialog."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage, BaseMessageChunk, HumanMessage, SystemMessage
from langchain_core.messages.ai import UsageMetadata, add_usage

from chatbot.access import AccessDenied
from chatbot.documents import summarize
from chatbot.errors import error_code
from chatbot.language import is_korean
from chatbot.memory import exchange, window
from chatbot.modes import SUMMARY, Mode
from chatbot.store.base import (
    Dialog,
    DialogType,
    Status,
    format_request_time,
    new_request_id,
)
from chatbot.store.outbox import Outbox

log = logging.getLogger(__name__)


class DialogWriter(Protocol):
    def put(self, dialog: Dialog) -> None: ...


class Saved(StrEnum):
    """Where a finished turn's dialog went."""

    STORED = "stored"
    QUEUED = "queued"  # the store failed; the outbox writes it when the store is back
    LOST = "lost"  # the store and the outbox both failed: the user is told


ChunkSource = Callable[[], Iterable[BaseMessageChunk]]


def prompt_messages(
    mode: Mode, question: str, history: Sequence[BaseMessage], window_k: int
) -> list[BaseMessage]:
    """System prompt, the memory window if the mode converses, then the question."""
    past = window(history, window_k) if mode.uses_history else []
    return [
        SystemMessage(mode.system_prompt(question)),
        *past,
        HumanMessage(mode.human_message(question)),
    ]


class Turn:
    """A question and its answer as it streams.

    The model's text accumulates in a plain attribute while it streams, so that whatever
    ends the stream (its end, an error, or the user's stop, which Streamlit raises inside
    ``st.write_stream``) leaves ``finish`` the partial answer to store.
    """

    def __init__(
        self,
        *,
        source: ChunkSource,
        mode: Mode,
        question: str,
        user_id: str,
        model_id: str,
        session_id: str | None = None,
        kind: DialogType = DialogType.TEXT,
    ) -> None:
        self.mode = mode
        self.question = question
        self.user_id = user_id
        self.model_id = model_id
        self.session_id = session_id
        self.kind = kind
        self.request_id = new_request_id()
        self.request_time = format_request_time(datetime.now(UTC), self.request_id)
        self.raw = ""
        self.usage: UsageMetadata | None = None
        self.ttft_ms: int | None = None
        self.latency_ms: int | None = None
        self.error: Exception | None = None
        self.saved: Saved | None = None
        self.dialog: Dialog | None = None
        self._source = source
        self._completed = False

    def stream(self) -> Iterator[str]:
        """The answer's text as the user should see it, chunk by chunk as it arrives."""
        return self.mode.display_stream(self._model_text())

    def _model_text(self) -> Iterator[str]:
        started = time.perf_counter()
        try:
            for chunk in self._source():
                if chunk.usage_metadata:
                    self.usage = add_usage(self.usage, chunk.usage_metadata)
                text = str(chunk.text)
                if not text:
                    continue
                if self.ttft_ms is None:
                    self.ttft_ms = _ms(time.perf_counter() - started)
                self.raw += text
                yield text
            self._completed = True
        except Exception as error:  # any failure of the call ends the turn, with its kind shown
            self.error = error
            log.warning("model call failed: %s after %d chars", error_code(error), len(self.raw))
        finally:
            self.latency_ms = _ms(time.perf_counter() - started)

    @property
    def status(self) -> Status:
        if self._completed:
            return Status.COMPLETE
        if self.error is not None:
            return Status.INCOMPLETE if self.raw else Status.ERROR
        return Status.STOPPED

    @property
    def answer(self) -> str:
        """The answer as shown and stored, after the mode's post-processing."""
        return self.mode.postprocess(self.raw)

    def finish(
        self, store: DialogWriter, memory: list[BaseMessage], outbox: Outbox | None = None
    ) -> Dialog:
        """Store the turn and feed the memory, once; later calls return the same dialog.

        A failed write puts the dialog in ``outbox``; ``saved`` says which happened.
        """
        if self.dialog is not None:
            return self.dialog
        usage = self.usage or {}
        self.dialog = Dialog(
            user_id=self.user_id,
            request_time=self.request_time,
            request_id=self.request_id,
            type=self.kind,
            body=self.question,
            msg=self.answer,
            mode=self.mode.id,
            model_id=self.model_id,
            input_tokens=usage.get("input_tokens"),
            output_tokens=usage.get("output_tokens"),
            ttft_ms=self.ttft_ms,
            latency_ms=self.latency_ms,
            status=self.status,
            session_id=self.session_id,
        )
        if self.mode.uses_history and self.status == Status.COMPLETE:
            memory.extend(exchange(self.question, self.dialog.msg))
        try:
            store.put(self.dialog)
            self.saved = Saved.STORED
        except AccessDenied:
            raise  # a bug, not an outage: never queue another user's dialog
        except Exception as error:  # the answer is on screen already; keep it for later
            log.warning("storing dialog %s failed: %s", self.request_id, error_code(error))
            self.saved = self._queue(outbox)
        return self.dialog

    def _queue(self, outbox: Outbox | None) -> Saved:
        if outbox is None or self.dialog is None:
            return Saved.LOST
        try:
            outbox.add(self.dialog)
        except Exception as error:
            log.error("queueing dialog %s failed: %s", self.request_id, error_code(error))
            return Saved.LOST
        return Saved.QUEUED


ModelFactory = Callable[[], BaseChatModel]


def chat_turn(
    *,
    model: ModelFactory,
    model_id: str,
    mode: Mode,
    question: str,
    memory: Sequence[BaseMessage],
    window_k: int,
    user_id: str,
    session_id: str | None = None,
) -> Turn:
    """A turn of ``mode`` on a typed question.

    ``model`` is called inside the turn, so a client that cannot be built (no region, say)
    fails the turn like any other call, with its message and a retry.
    """
    messages = prompt_messages(mode, question, memory, window_k)
    return Turn(
        source=lambda: model().stream(messages),
        mode=mode,
        question=question,
        user_id=user_id,
        model_id=model_id,
        session_id=session_id,
    )


def document_turn(
    *,
    model: ModelFactory,
    model_id: str,
    file_name: str,
    text: str,
    user_id: str,
    session_id: str | None = None,
) -> Turn:
    """A summary of an uploaded file's extracted ``text``, in the text's language."""
    return Turn(
        source=lambda: summarize(model(), text, korean=is_korean(text)),
        mode=SUMMARY,
        question=file_name,
        user_id=user_id,
        model_id=model_id,
        session_id=session_id,
        kind=DialogType.DOCUMENT,
    )


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
