"""One turn: the prompt, the streamed answer with its usage and timings, then the stored dialog."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.ai import UsageMetadata, add_usage

from chatbot.caching import with_cache_points
from chatbot.documents import summarize
from chatbot.errors import error_code
from chatbot.language import is_korean
from chatbot.memory import window
from chatbot.modes import SUMMARY, Mode
from chatbot.store.base import (
    Dialog,
    DialogType,
    Status,
    format_request_time,
    new_request_id,
)

log = logging.getLogger(__name__)


ChunkSource = Callable[[], Iterable[AIMessageChunk]]


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


ModelFactory = Callable[[], BaseChatModel]


@dataclass(frozen=True)
class TurnContext:
    """What the turns of one page run share: who asks, in which session, of which model,
    and the conversation so far with the size of its window."""

    model: ModelFactory
    model_id: str
    user_id: str
    session_id: str | None = None
    memory: Sequence[BaseMessage] = ()
    window_k: int = 0
    prompt_cache: bool = True  # cache points in the prompt (chatbot.caching)


class Turn:
    """A question and its answer as it streams.

    The model's text accumulates in a plain attribute while it streams, so that whatever
    ends the stream (its end, an error, or the user's stop, which Streamlit raises inside
    ``st.write_stream``) leaves ``to_dialog`` the partial answer to store. A stream that ends
    any other way than its end or an error is stopped: ``stop`` says so, and closes it.
    """

    def __init__(
        self,
        *,
        context: TurnContext,
        source: ChunkSource,
        mode: Mode,
        question: str,
        kind: DialogType = DialogType.TEXT,
    ) -> None:
        self.context = context
        self.mode = mode
        self.question = question
        self.kind = kind
        self.request_id = new_request_id()
        self.request_time = format_request_time(datetime.now(UTC), self.request_id)
        self.raw = ""
        self.usage: UsageMetadata | None = None
        self.ttft_ms: int | None = None
        self.latency_ms: int | None = None
        self.error: Exception | None = None
        self.stopped = False
        self._source = source
        self._completed = False
        self._text: Generator[str] | None = None

    def stream(self) -> Iterator[str]:
        """The answer's text as the user should see it, chunk by chunk as it arrives."""
        self._text = self._model_text()
        return self.mode.display_stream(self._text)

    def stop(self) -> None:
        """End the stream where it is, keeping what arrived; nothing if it already ended."""
        if self._completed or self.error is not None:
            return
        self.stopped = True
        if self._text is not None:
            self._text.close()  # the model call's connection is released now

    def _model_text(self) -> Generator[str]:
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
        except GeneratorExit:  # closed before its end: by stop(), or by whoever abandoned it
            self.stopped = True
            raise
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
        if self.stopped:
            return Status.STOPPED
        raise RuntimeError("the turn is still streaming: stop() it first")

    @property
    def answer(self) -> str:
        """The answer as shown and stored, after the mode's post-processing."""
        return self.mode.postprocess(self.raw)

    def to_dialog(self) -> Dialog:
        """The finished turn (complete, failed or stopped) as a dialog; no side effects."""
        usage = self.usage
        cached = usage.get("input_token_details", {}) if usage else {}
        return Dialog(
            user_id=self.context.user_id,
            request_time=self.request_time,
            request_id=self.request_id,
            type=self.kind,
            body=self.question,
            msg=self.answer,
            mode=self.mode.id,
            model_id=self.context.model_id,
            input_tokens=usage["input_tokens"] if usage else None,
            output_tokens=usage["output_tokens"] if usage else None,
            ttft_ms=self.ttft_ms,
            latency_ms=self.latency_ms,
            status=self.status,
            session_id=self.context.session_id,
            cache_read_tokens=cached.get("cache_read"),
            cache_write_tokens=cached.get("cache_creation"),
        )


# A file name is the one thing a user controls that is not bounded by the input limit (a
# browser sends whatever name the file has); it is stored and shown as the question.
MAX_FILE_NAME_CHARS = 255


def capped_file_name(name: str) -> str:
    """``name`` shortened to MAX_FILE_NAME_CHARS, keeping its extension visible."""
    if len(name) <= MAX_FILE_NAME_CHARS:
        return name
    stem, dot, extension = name.rpartition(".")
    tail = f"…{dot}{extension}" if dot and len(extension) <= 10 else "…"
    return (stem if dot else name)[: MAX_FILE_NAME_CHARS - len(tail)] + tail


def chat_turn(context: TurnContext, mode: Mode, question: str) -> Turn:
    """A turn of ``mode`` on a typed question, with the conversation's window if it converses.

    The model is built inside the turn, so a client that cannot be built (no region, say)
    fails the turn like any other call, with its message and a retry.
    """
    messages = prompt_messages(mode, question, context.memory, context.window_k)
    if context.prompt_cache:
        messages = with_cache_points(messages, context.model_id)
    return Turn(
        context=context,
        source=lambda: context.model().stream(messages),
        mode=mode,
        question=question,
    )


def document_turn(context: TurnContext, file_name: str, text: str) -> Turn:
    """A summary of an uploaded file's extracted ``text``, in the text's language."""
    return Turn(
        context=context,
        source=lambda: summarize(context.model(), text, korean=is_korean(text)),
        mode=SUMMARY,
        question=capped_file_name(file_name),
        kind=DialogType.DOCUMENT,
    )


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
