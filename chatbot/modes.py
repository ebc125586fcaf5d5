"""The prompt modes as data: adding a mode is adding an entry to ``MODES`` (and its prompts
to ``chatbot.prompts``).

Each mode has a Korean and an English system prompt, picked by the language of the input,
a template that wraps the user's text in the tag its prompt refers to, whether it reads and
feeds the conversation memory, and how its answer is post-processed.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from chatbot import prompts
from chatbot.language import is_korean
from chatbot.prompt_tags import neutralise_tags

RESULT_TAG = "result"


def extract_result(answer: str, tag: str = RESULT_TAG) -> str:
    """The text inside the first ``<tag>``, up to its ``</tag>`` or the end.

    Without an opening tag the model ignored the format: the whole answer is the result,
    rather than an empty or garbled slice as the original's fixed offsets produced.
    """
    start = answer.find(f"<{tag}>")
    if start < 0:
        return answer.strip()
    start += len(tag) + 2
    end = answer.find(f"</{tag}>", start)
    return answer[start : end if end >= 0 else len(answer)].strip()


class TagStream:
    """Incremental ``extract_result``: feed streamed text, get the result part as it arrives.

    Text before the opening tag is held back (it is the model's preamble); if the tag never
    comes, ``finish`` releases all of it, matching ``extract_result``.
    """

    def __init__(self, tag: str = RESULT_TAG) -> None:
        self._open, self._close = f"<{tag}>", f"</{tag}>"
        self._held = ""
        self._state = "before"
        self._emitted_any = False

    def feed(self, chunk: str) -> str:
        self._held += chunk
        out = ""
        if self._state == "before":
            start = self._held.find(self._open)
            if start < 0:
                return ""
            self._held = self._held[start + len(self._open) :]
            self._state = "inside"
        if self._state == "inside":
            end = self._held.find(self._close)
            if end >= 0:
                out, self._held, self._state = self._held[:end], "", "after"
            else:
                # Keep back what could be the start of the closing tag.
                keep = _partial_suffix(self._held, self._close)
                cut = len(self._held) - keep
                out, self._held = self._held[:cut], self._held[cut:]
        elif self._state == "after":
            self._held = ""
        return self._lstrip_start(out)

    def finish(self) -> str:
        held, self._held = self._held, ""
        if self._state == "before":
            return held.strip()
        return self._lstrip_start(held) if self._state == "inside" else ""

    def _lstrip_start(self, out: str) -> str:
        if not self._emitted_any:
            out = out.lstrip()
            self._emitted_any = bool(out)
        return out


def _partial_suffix(text: str, tag: str) -> int:
    """Length of the longest suffix of ``text`` that is a proper prefix of ``tag``."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return size
    return 0


def _format_timestamp(result: str) -> str:
    """``<year>2023</year><month>12</month>...`` to ``2023-12-05 18:26``, keeping what exists."""
    year, month, day, hour, minute = (
        m.group(1).strip() if (m := re.search(rf"<{name}>(.*?)</{name}>", result, re.S)) else ""
        for name in ("year", "month", "day", "hour", "minute")
    )
    if not any((year, month, day, hour, minute)):
        return result
    date = "-".join([year] * bool(year) + [p.zfill(2) for p in (month, day) if p])
    time = ":".join(p.zfill(2) for p in (hour, minute) if p)
    return " ".join(s for s in (date, time) if s)


@dataclass(frozen=True)
class Mode:
    id: str
    label_ko: str
    label_en: str
    system_ko: str
    system_en: str
    human: str = "{input}"  # wraps the (neutralised) user text
    uses_history: bool = False
    result_tag: str | None = None  # keep only the text inside this tag
    formatter: Callable[[str], str] | None = None  # applied to the result afterwards

    def label(self, lang: str) -> str:
        return self.label_ko if lang == "ko" else self.label_en

    def system_prompt(self, text: str) -> str:
        """The system prompt in the language of ``text``."""
        korean = is_korean(text)
        template = self.system_ko if korean else self.system_en
        source, target = ("Korean", "English") if korean else ("English", "Korean")
        return template.format(input_language=source, output_language=target)

    def human_message(self, text: str) -> str:
        # The prompts' tags inside the text are escaped: it can neither close the wrapper
        # early nor fake a result (chatbot.prompt_tags lists them).
        return self.human.format(input=neutralise_tags(text))

    def postprocess(self, answer: str) -> str:
        """The answer as shown and stored, from the model's full output."""
        result = extract_result(answer, self.result_tag) if self.result_tag else answer.strip()
        return self.formatter(result) if self.formatter else result

    def display_stream(self, chunks: Iterable[str]) -> Iterator[str]:
        """What the user sees while ``chunks`` stream in: only the result part, if any."""
        if not self.result_tag:
            yield from chunks
            return
        tags = TagStream(self.result_tag)
        for chunk in chunks:
            if out := tags.feed(chunk):
                yield out
        if out := tags.finish():
            yield out


MODES: dict[str, Mode] = {
    m.id: m
    for m in (
        Mode(
            id="normal",
            label_ko="일상 대화 (서연)",
            label_en="General conversation (Seoyeon)",
            system_ko=prompts.SEOYEON_KO,
            system_en=prompts.SEOYEON_EN,
            uses_history=True,
        ),
        Mode(
            id="translation",
            label_ko="번역 (한↔영)",
            label_en="Translation (KO↔EN)",
            system_ko=prompts.TRANSLATION_KO,
            system_en=prompts.TRANSLATION_EN,
            human="<article>{input}</article>",
            result_tag=RESULT_TAG,
        ),
        Mode(
            id="grammar",
            label_ko="문법 검토",
            label_en="Grammar check",
            system_ko=prompts.GRAMMAR_KO,
            system_en=prompts.GRAMMAR_EN,
            human="<article>{input}</article>",
        ),
        Mode(
            id="sentiment",
            label_ko="주제와 감정 분석",
            label_en="Topic and sentiment",
            system_ko=prompts.SENTIMENT_KO,
            system_en=prompts.SENTIMENT_EN,
            human="<review>{input}</review>",
            result_tag=RESULT_TAG,
        ),
        Mode(
            id="extraction",
            label_ko="정보 추출 (이메일)",
            label_en="Information extraction (e-mail)",
            system_ko=prompts.EXTRACTION_KO,
            system_en=prompts.EXTRACTION_EN,
            human="<text>{input}</text>",
            result_tag=RESULT_TAG,
        ),
        Mode(
            id="pii",
            label_ko="개인정보 삭제",
            label_en="Remove PII",
            system_ko=prompts.PII_KO,
            system_en=prompts.PII_EN,
            human="<text>{input}</text>",
            result_tag=RESULT_TAG,
        ),
        Mode(
            id="step-by-step",
            label_ko="복잡한 질문 (단계별 추론)",
            label_en="Complex question (step by step)",
            system_ko=prompts.STEP_BY_STEP_KO,
            system_en=prompts.STEP_BY_STEP_EN,
        ),
        Mode(
            id="timestamp-extraction",
            label_ko="날짜·시간 추출",
            label_en="Timestamp extraction",
            system_ko=prompts.TIMESTAMP_KO,
            system_en=prompts.TIMESTAMP_EN,
            human="<text>{input}</text>",
            result_tag=RESULT_TAG,
            formatter=_format_timestamp,
        ),
    )
}

DEFAULT_MODE = "normal"

# Not picked in the sidebar: attaching a file starts a summary in any mode. Its id and labels
# are stored and shown like a mode's; its prompts are sent by chatbot.documents.summarize.
SUMMARY = Mode(
    id="summary", label_ko="파일 요약", label_en="File summary", system_ko="", system_en=""
)
