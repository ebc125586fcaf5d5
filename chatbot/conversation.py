"""One turn: the prompt, the streamed answer with its usage and timings, then the stored dialog."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.messages.ai import UsageMetadata, add_usage

from chatbot.caching import with_cache_points
from chatbot.documents import summarize
from chatbot.errors import classify, error_code
from chatbot.language import is_korean
from chatbot.memory import exchange, window
from chatbot.modes import DEFAULT_MODE, MODES, SUMMARY, Mode
from chatbot.pricing import Price, cost_microusd
from chatbot.prompt_tags import neutralise_tags
from chatbot.prompts import files_prompt
from chatbot.store.base import (
    Dialog,
    DialogType,
    Status,
    format_request_time,
    new_request_id,
)

if TYPE_CHECKING:  # 0.3 s of imports (LangChain's tracers, langsmith), not needed to draw a page
    from langchain_core.language_models import BaseChatModel

log = logging.getLogger(__name__)


ChunkSource = Callable[[], Iterable[AIMessageChunk]]


# A summarised file's text kept for its conversation's follow-up questions: its start, this
# many characters (about 12,000 tokens of English, up to 50,000 of Korean); the page says
# when a file is longer. A conversation's files go into a prompt newest first, while their
# texts total at most FILES_CONTEXT_CHARS.
FILE_CONTEXT_CHARS = 50_000
FILES_CONTEXT_CHARS = 100_000


def prompt_messages(
    mode: Mode,
    question: str,
    history: Sequence[BaseMessage],
    window_k: int,
    files: Sequence[Dialog] = (),
) -> list[BaseMessage]:
    """System prompt (with the conversation's files, if the mode converses), the memory
    window if the mode converses, then the question."""
    system = mode.system_prompt(question)
    if mode.uses_history and files:
        system += "\n\n" + files_text(files, korean=is_korean(question))
    past = window(history, window_k) if mode.uses_history else []
    return [SystemMessage(system), *past, HumanMessage(mode.human_message(question))]


def files_text(files: Sequence[Dialog], korean: bool) -> str:
    """The files of a conversation for its prompt: the newest that fit FILES_CONTEXT_CHARS,
    in the order they came, each in <document> tags (the prompts' tags in it escaped)."""
    kept: list[Dialog] = []
    total = 0
    for file in reversed(files):
        total += len(file.document_text or "")
        if total > FILES_CONTEXT_CHARS:
            break
        kept.append(file)
    documents = [
        f'<document name="{_attribute(file.body)}">\n'
        f"{neutralise_tags(file.document_text or '')}\n</document>"
        for file in reversed(kept)
    ]
    return "\n".join([files_prompt(korean), *documents])


def _attribute(text: str) -> str:
    """A file name as a tag's attribute value: tags escaped, and no quote to end it."""
    return neutralise_tags(text).replace('"', "&quot;")


ModelFactory = Callable[[], "BaseChatModel"]


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
    conversation_id: str | None = None
    files: Sequence[Dialog] = ()  # the conversation's summarised files, with their text
    price: Price | None = None  # the model's (chatbot.pricing); None: cost unknown


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
        continues: Dialog | None = None,
        document_text: str | None = None,
    ) -> None:
        self.context = context
        self.mode = mode
        self.question = question
        self.kind = kind
        self.continues = continues
        self.document_text = document_text
        self.usage: UsageMetadata | None = None
        self.ttft_ms: int | None = None
        self.latency_ms: int | None = None
        self._earlier_ms = 0
        if continues is None:
            self.request_id = new_request_id()
            self.request_time = format_request_time(datetime.now(UTC), self.request_id)
            self.raw = ""
        else:  # the same dialog, its answer and its costs carried on
            self.request_id, self.request_time = continues.request_id, continues.request_time
            self.raw = continues.msg.rstrip()
            self.usage = _usage_of(continues)
            self.ttft_ms = continues.ttft_ms
            self._earlier_ms = continues.latency_ms or 0
        self.error: Exception | None = None
        self.stop_reason: str | None = None  # Bedrock's, once the model has finished
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
                if reason := chunk.response_metadata.get("stopReason"):
                    self.stop_reason = reason
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
            self.latency_ms = self._earlier_ms + _ms(time.perf_counter() - started)

    @property
    def status(self) -> Status:
        if self._completed:
            return Status.CUT if self.stop_reason == "max_tokens" else Status.COMPLETE
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
        read, written = cached.get("cache_read"), cached.get("cache_creation")
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
            cache_read_tokens=read,
            cache_write_tokens=written,
            conversation_id=self.context.conversation_id,
            stop_reason=self.stop_reason,
            document_text=self.document_text,
            cost_microusd=self._cost(read or 0, written or 0),
            error_kind=classify(self.error) if self.error is not None else None,
        )

    def _cost(self, read: int, written: int) -> int | None:
        """In millionths of a dollar, from the usage and the price; None without either."""
        price, usage = self.context.price, self.usage
        if price is None or usage is None:
            return None
        return cost_microusd(
            price,
            full_input=usage["input_tokens"] - read - written,
            output=usage["output_tokens"],
            cache_read=read,
            cache_write=written,
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
    messages = prompt_messages(mode, question, context.memory, context.window_k, context.files)
    if context.prompt_cache:
        messages = with_cache_points(messages, context.model_id)
    return Turn(
        context=context,
        source=lambda: context.model().stream(messages),
        mode=mode,
        question=question,
    )


def can_continue(dialog: Dialog) -> bool:
    """Whether Continue can carry on this answer: one the output limit cut, of a typed
    question, in a mode that shows the whole answer (a ``<result>`` mode shows a part)."""
    mode = MODES.get(dialog.mode or DEFAULT_MODE)
    return (
        dialog.status == Status.CUT
        and dialog.type == DialogType.TEXT
        and mode is not None
        and mode.result_tag is None
    )


def continue_turn(context: TurnContext, cut: Dialog) -> Turn:
    """Carry on an answer the output limit cut (``can_continue``): the same prompt, and the
    answer so far as the start of the model's reply, which Claude continues from there."""
    mode = MODES[cut.mode or DEFAULT_MODE]
    history = list(context.memory)
    if history[-2:] == exchange(cut.body, cut.msg):
        history = history[:-2]  # the cut exchange itself is the prompt's end, not its past
    messages = prompt_messages(mode, cut.body, history, context.window_k, context.files)
    if context.prompt_cache:
        messages = with_cache_points(messages, context.model_id)
    # Bedrock refuses an assistant prefill that ends with whitespace.
    messages.append(AIMessage(cut.msg.rstrip()))
    return Turn(
        context=context,
        source=lambda: context.model().stream(messages),
        mode=mode,
        question=cut.body,
        continues=cut,
    )


def document_turn(context: TurnContext, file_name: str, text: str) -> Turn:
    """A summary of an uploaded file's extracted ``text``, in the text's language; the text's
    start is kept with it for the conversation's follow-up questions."""
    return Turn(
        context=context,
        source=lambda: summarize(context.model(), text, korean=is_korean(text)),
        mode=SUMMARY,
        question=capped_file_name(file_name),
        kind=DialogType.DOCUMENT,
        document_text=text[:FILE_CONTEXT_CHARS],
    )


def _usage_of(dialog: Dialog) -> UsageMetadata | None:
    """A stored dialog's token counts as LangChain's usage, to add a continuation's to."""
    if dialog.input_tokens is None or dialog.output_tokens is None:
        return None
    return UsageMetadata(
        input_tokens=dialog.input_tokens,
        output_tokens=dialog.output_tokens,
        total_tokens=dialog.input_tokens + dialog.output_tokens,
        input_token_details={
            "cache_read": dialog.cache_read_tokens or 0,
            "cache_creation": dialog.cache_write_tokens or 0,
        },
    )


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
