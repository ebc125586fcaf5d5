"""Text extraction from uploaded files and map-reduce summarisation with a chat model.

No Streamlit here: the UI turns `DocumentError.kind` into a localised message and renders
the chunks that `summarize` yields.
"""

from __future__ import annotations

import codecs
import csv
import queue
import re
import struct
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum
from io import BytesIO, TextIOWrapper
from pathlib import Path
from typing import IO, TYPE_CHECKING
from xml.parsers import expat

from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage, SystemMessage
from langchain_core.messages.ai import UsageMetadata, add_usage
from langchain_text_splitters import RecursiveCharacterTextSplitter

from chatbot.inputs import remove_control_chars
from chatbot.prompt_tags import neutralise_tags
from chatbot.prompts import summary_combine_request, summary_part_request, summary_prompt

if TYPE_CHECKING:  # LangChain's language models: 0.3 s, not needed to draw a page
    from langchain_core.language_models import BaseChatModel

__all__ = [
    "MAX_DOCUMENT_CHARS",
    "MAX_FILE_BYTES",
    "SUPPORTED_EXTENSIONS",
    "DocumentError",
    "DocumentErrorKind",
    "ExtractedText",
    "ReadLimit",
    "extract_text",
    "split_for_summary",
    "summarize",
]

SUPPORTED_EXTENSIONS: tuple[str, ...] = ("pdf", "txt", "md", "csv", "docx")
MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_DOCUMENT_CHARS = 200_000

# A DOCX is a zip: a small upload can inflate enormously (zip bomb), so cap the unpacked size.
_MAX_DOCX_UNPACKED_BYTES = 200 * 1024 * 1024
# Extraction runs on Streamlit's script thread: past this, reading stops with what it has
# (the goal is 5 s a file, whatever its shape, incl. starting the PDF worker).
_MAX_EXTRACT_SECONDS = 4.0
# Pages of a PDF read at most; text-rich pages fill MAX_DOCUMENT_CHARS well before.
_MAX_PDF_PAGES = 500
# Address space of the PDF worker process (about 55 MB of it is Python and pypdf).
_PDF_WORKER_MEMORY = 300 * 1024 * 1024
# Text and XML are decoded and parsed this many bytes at a time, checking limits between.
_CHUNK_BYTES = 64 * 1024
# CSV rows parsed between two looks at the clock (a blank row costs well under a microsecond).
_ROWS_PER_CHECK = 1024
# expat holds a token (tag, attribute value, comment) whole until it ends: a DOCX part that
# goes this long without one is not a Word document, and reading it stops.
_MAX_XML_SILENT_BYTES = 8 * 1024 * 1024
# Each map round shrinks the text ~16x (8000-char chunk -> <=500-char summary), so a few
# rounds cover MAX_DOCUMENT_CHARS; the cap only guards against a model ignoring the limit.
_MAX_MAP_ROUNDS = 3

# Three or more line breaks with only spaces or tabs between them. Not written as
# `\n[ \t]*\n(?:[ \t]*\n)+`: that group keeps backtracking state per repetition (300 MB for
# two million blank lines), a one-character class does not.
_EXCESS_BLANK_LINES = re.compile(r"\n[ \t]*\n[ \t\n]*\n")
# What `_clean` may drop at the end of a text: control characters and whitespace
# (str.isspace; nothing above U+3000 is).
_DROPPABLE = "".join(
    char for char in map(chr, range(0x3001)) if char.isspace() or not remove_control_chars(char)
)


class DocumentErrorKind(StrEnum):
    """Why a file cannot be summarised; the UI shows the text ``document_<kind>``."""

    UNSUPPORTED = "unsupported"
    TOO_LARGE = "too_large"
    EMPTY = "empty"
    UNREADABLE = "unreadable"
    TOO_COMPLEX = "too_complex"  # the time or memory limit ended reading before any text


class DocumentError(Exception):
    """A file cannot be summarised: `kind` says why (the UI shows only that); the message
    adds what was found, for a traceback."""

    def __init__(self, kind: DocumentErrorKind, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


class ReadLimit(StrEnum):
    """A limit that ended reading early; the UI shows the text ``document_<limit>``."""

    TRUNCATED = "truncated"  # MAX_DOCUMENT_CHARS: the text is the file's first part
    PAGE_LIMIT = "page_limit"  # the PDF has more than _MAX_PDF_PAGES pages
    TIME_LIMIT = "time_limit"  # _MAX_EXTRACT_SECONDS, or the PDF worker's memory


@dataclass(frozen=True)
class ExtractedText:
    """The text of a file, and the limit that ended reading early, if one did."""

    text: str
    limit: ReadLimit | None  # None: the whole file was read
    pages: int | None  # for PDFs, the pages read, else None


# --------------------------------------------------------------------------- extraction


def _extension(filename: str) -> str:
    # Browsers may send a Windows path; only the last component's suffix matters.
    name = re.split(r"[\\/]", filename or "")[-1]
    stem, dot, ext = name.rpartition(".")
    return ext.lower() if dot and stem.strip(".") else ""


def _detect_encoding(data: bytes) -> str:
    """Pick an encoding that decodes all of `data`.

    chardet-style guessing does poorly on short Korean text, so try the likely candidates
    explicitly. The whole file is checked (a CP949 file may begin with ASCII that is also
    UTF-8), a chunk at a time so its decoded text is never held.
    """
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"  # Notepad's "Unicode"; the BOM says which byte order
    # utf-8-sig also drops the BOM Excel puts in front of UTF-8 CSVs (else header 1 is "\ufeff…").
    # cp949 is a superset of euc-kr and what Korean Windows writes by default.
    for encoding in ("utf-8-sig", "cp949"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for chunk in _chunks(data, 16 * _CHUNK_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return encoding
    raise DocumentError(DocumentErrorKind.UNREADABLE, "text is neither UTF-8 nor CP949")


def _chunks(data: bytes, size: int) -> Iterator[memoryview]:
    view = memoryview(data)
    return (view[start : start + size] for start in range(0, len(data), size))


def _check_docx_size(data: bytes) -> None:
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError) as exc:
        raise DocumentError(DocumentErrorKind.UNREADABLE, "not a valid DOCX (zip)") from exc
    if unpacked > _MAX_DOCX_UNPACKED_BYTES:
        raise DocumentError(DocumentErrorKind.TOO_LARGE, f"DOCX unpacks to {unpacked} bytes")


class _Stop(Exception):
    """A limit ends reading before the end of the file; what was read is kept."""

    def __init__(self, limit: ReadLimit) -> None:
        super().__init__(limit)
        self.limit = limit


_clock: Callable[[], float] = time.monotonic


def _check_time(deadline: float) -> None:
    if _clock() > deadline:
        raise _Stop(ReadLimit.TIME_LIMIT)


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # NULs etc. (PDF form feeds, binary junk). Lone surrogates are kept, as pypdf gave them.
    text = remove_control_chars(text)
    return _EXCESS_BLANK_LINES.sub("\n\n", text)  # Word documents have runs of empty lines


def _clean(text: str) -> str:
    return _normalise(text).strip()


class _Text:
    """`_clean` of everything added, joined, kept until it is longer than `budget`.

    Cleaning is local except at runs of whitespace and control characters, so those at the
    end of what has arrived are held back until a visible character follows: they may still
    grow into a run of blank lines, or end the file and be stripped.
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.parts: list[str] = []
        self.size = 0
        self.held: list[str] = []
        self.held_size = 0
        self.compact_at = _CHUNK_BYTES

    @property
    def full(self) -> bool:
        return self.size > self.budget

    def add(self, piece: str) -> None:
        body = piece.rstrip(_DROPPABLE)
        if body:
            cleaned = _normalise("".join(self.held) + body)
            if not self.parts:
                cleaned = cleaned.lstrip()
            self.parts.append(cleaned)
            self.size += len(cleaned)
            self.held, self.held_size = [], 0
        self._hold(piece[len(body) :])

    def _hold(self, tail: str) -> None:
        if not tail:
            return
        self.held.append(tail)
        self.held_size += len(tail)
        if self.held_size > self.compact_at:
            # Millions of blank lines: collapse them now (a "\r" may be half of a "\r\n").
            held = "".join(self.held)
            cr = "\r" if held.endswith("\r") else ""
            held = _normalise(held.removesuffix("\r")) + cr
            self.held, self.held_size = [held], len(held)
            self.compact_at = max(_CHUNK_BYTES, 2 * len(held))

    def text(self) -> str:
        return "".join(self.parts)[: self.budget]


# Each reader yields the file's text in pieces and raises _Stop when a limit ends reading;
# extract_text stops pulling once it has MAX_DOCUMENT_CHARS. LangChain's loaders are not
# used: none of them is bounded in time and memory (each reader's docstring says why).


def _text_pieces(data: bytes, deadline: float) -> Generator[str]:
    """TXT and MD, decoded a chunk at a time.

    LangChain's TextLoader decodes the whole file into one string first.
    """
    decoder = codecs.getincrementaldecoder(_detect_encoding(data))()
    for chunk in _chunks(data, _CHUNK_BYTES):
        _check_time(deadline)
        yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


_CSV_RESTKEY = "extra"  # CSVLoader's restkey: the cells of a row longer than the header


def _csv_rows(data: bytes, deadline: float) -> Generator[str]:
    """CSV, a row at a time, each as LangChain's CSVLoader writes it: "column: value" lines.

    CSVLoader (csv.DictReader) formats a whole row however wide (a 13 MB one-row file took
    388 MB), skips blank lines where nothing can stop it, and loads every row as a Document
    (3 million rows: 2.4 GB, 27 s). csv.reader here, with the clock checked every few rows.
    """
    stream = TextIOWrapper(BytesIO(data), encoding=_detect_encoding(data), newline="")
    rows = csv.reader(stream)
    header = next(rows, None)
    if header is None:
        return
    columns = _csv_columns(header)
    for number, row in enumerate(rows):
        if number % _ROWS_PER_CHECK == 0:
            _check_time(deadline)
        if row:  # DictReader skips blank lines
            yield "\n\n" + _clean(_csv_row_text(columns, len(header), row))


def _csv_columns(header: list[str]) -> list[tuple[str, int]]:
    """(name, index of its cell) in csv.DictReader's order: a repeated name once, where it
    first appears, with the cell of its last column.

    Each column adds at least ": " and a line break to the text, so only the first
    MAX_DOCUMENT_CHARS // 3 can show within the budget; the others are not formatted.
    """
    columns: dict[str, int] = {}
    for index, name in enumerate(header):
        if name in columns or len(columns) <= MAX_DOCUMENT_CHARS // 3:
            columns[name] = index
    return list(columns.items())


def _csv_row_text(columns: list[tuple[str, int]], width: int, row: list[str]) -> str:
    # As CSVLoader with restval="" and restkey="extra": the missing cells of a short row are
    # empty, the cells beyond the header of a long row are joined under "extra".
    extra = ",".join(cell.strip() for cell in row[width:]) if len(row) > width else None
    lines = []
    for name, index in columns:
        if name == _CSV_RESTKEY and extra is not None:
            value, extra = extra, None
        else:
            value = row[index].strip() if index < len(row) else ""
        lines.append(f"{name.strip()}: {value}")
    if extra is not None:
        lines.append(f"{_CSV_RESTKEY}: {extra}")
    return "\n".join(lines)


_WORD = "http://schemas.openxmlformats.org/wordprocessingml/2006/main "  # expat: "uri name"
_WORD_TEXT = _WORD + "t"
# What docx2txt writes for these elements: a paragraph starts with a blank line.
_WORD_MARKS = {_WORD + "tab": "\t", _WORD + "br": "\n", _WORD + "cr": "\n", _WORD + "p": "\n\n"}


def _docx_pieces(data: bytes, deadline: float) -> Generator[str]:
    """DOCX: docx2txt's text (headers, then the body, then footers), parsed as a stream.

    docx2txt (LangChain's Docx2txtLoader) builds each part's whole XML tree: 5 million empty
    paragraphs, a 40 KB upload, took 477 MB.
    """
    with zipfile.ZipFile(BytesIO(data)) as archive:
        names = archive.namelist()
        parts = [name for name in names if re.match("word/header[0-9]*.xml", name)]
        parts.append("word/document.xml")
        parts += [name for name in names if re.match("word/footer[0-9]*.xml", name)]
        for name in parts:
            with archive.open(name) as member:
                yield from _word_xml_text(member, deadline)


def _word_xml_text(member: IO[bytes], deadline: float) -> Iterator[str]:
    """The text of one part, fed to expat a chunk at a time: no tree, nothing kept."""
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.buffer_text = True  # text in pieces of up to 8 KB rather than many small ones
    parser.ordered_attributes = True  # unused; a list is cheaper than a dict
    pieces: list[str] = []
    inside_text = False
    fed = heard = 0  # bytes given to expat; what `fed` was when it last reported something

    def refuse_dtd(*_: object) -> None:
        # OOXML has no DTD, and without one there is no entity to expand (billion laughs).
        raise DocumentError(DocumentErrorKind.UNREADABLE, "DOCX part with a DTD")

    def start(name: str, _attributes: list[str]) -> None:
        nonlocal inside_text, heard
        heard = fed
        if name == _WORD_TEXT:
            inside_text = True
        elif mark := _WORD_MARKS.get(name):
            pieces.append(mark)

    def end(_name: str) -> None:
        nonlocal inside_text, heard
        heard = fed
        inside_text = False  # as docx2txt, which takes a <w:t>'s text before any child

    def characters(text: str) -> None:
        nonlocal heard
        heard = fed
        if inside_text:
            pieces.append(text)

    parser.StartDoctypeDeclHandler = refuse_dtd
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    while chunk := member.read(_CHUNK_BYTES):
        _check_time(deadline)
        fed += len(chunk)
        parser.Parse(chunk, False)
        if fed - heard > _MAX_XML_SILENT_BYTES:
            raise _Stop(ReadLimit.TIME_LIMIT)
        yield "".join(pieces)
        pieces.clear()
    parser.Parse(b"", True)
    yield "".join(pieces)


# pypdf can spend unbounded time and memory inside one page, out of reach of any check
# between pages (a 260 KB page naming one 60,000-entry ToUnicode CMap under 100 font names:
# 28 s and 1.2 GB; a 2 KB page invoking one form 5,000 times: 36 s). So pages are read in a
# worker process, killed at the deadline and capped at _PDF_WORKER_MEMORY, which sends each
# page's text as soon as it has it. A frame: a tag byte, a 4-byte length, that many bytes.
_PDF_WORKER = Path(__file__).with_name("pdf_worker.py")


def _pdf_pages(data: bytes, deadline: float) -> Generator[str]:
    """PDF: each page's text, from pypdf in a worker process (see _PDF_WORKER).

    LangChain's PyPDFLoader reads in this process, and lists every page's label for each
    page it yields (30 ms a page in a file of 90,000 pages).
    """
    limits = (str(_MAX_PDF_PAGES), str(_PDF_WORKER_MEMORY))
    worker = subprocess.Popen(
        [sys.executable, "-P", str(_PDF_WORKER), *limits],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert worker.stdin is not None and worker.stdout is not None
    frames: queue.SimpleQueue[tuple[bytes, bytes]] = queue.SimpleQueue()
    reader = threading.Thread(target=_read_frames, args=(worker.stdout, frames), daemon=True)
    reader.start()
    try:
        try:
            with worker.stdin:
                worker.stdin.write(data)
        except BrokenPipeError:
            pass  # the worker ended early: its last frame, or the lack of one, says why
        while True:
            try:
                tag, payload = frames.get(timeout=max(0.0, deadline - _clock()))
            except queue.Empty:
                raise _Stop(ReadLimit.TIME_LIMIT) from None
            if tag == b"T":
                yield "\n\n" + _clean(payload.decode("utf-8", "surrogatepass"))
            elif tag == b"D":
                return
            elif tag == b"P":
                raise _Stop(ReadLimit.PAGE_LIMIT)
            elif tag == b"E":  # pypdf's error, e.g. a damaged file
                raise ChildProcessError(payload.decode(errors="replace"))
            else:  # "L": a pypdf or memory limit; "": the worker died (most likely of memory)
                raise _Stop(ReadLimit.TIME_LIMIT)
    finally:
        worker.kill()
        worker.wait()
        reader.join()


def _read_frames(stream: IO[bytes], frames: queue.SimpleQueue[tuple[bytes, bytes]]) -> None:
    with stream:
        while len(head := stream.read(5)) == 5:
            (length,) = struct.unpack(">I", head[1:])
            payload = stream.read(length)
            if len(payload) < length:
                break  # cut off by the worker's end
            frames.put((head[:1], payload))
    frames.put((b"", b""))


_READERS: dict[str, Callable[[bytes, float], Generator[str]]] = {
    "pdf": _pdf_pages,
    "txt": _text_pieces,
    "md": _text_pieces,
    "csv": _csv_rows,
    "docx": _docx_pieces,
}


def extract_text(filename: str, data: bytes) -> ExtractedText:
    """Extract the plain text of an uploaded file.

    Reading stops at MAX_DOCUMENT_CHARS of text, after _MAX_PDF_PAGES pages or
    _MAX_EXTRACT_SECONDS; `limit` says which, and the text read so far is returned. The file
    is read from memory (the PDF worker gets it on its stdin): nothing is written to disk.
    Raises DocumentError (UNSUPPORTED, TOO_LARGE, EMPTY, UNREADABLE, or TOO_COMPLEX when a
    limit ends reading before any text).
    """
    deadline = _clock() + _MAX_EXTRACT_SECONDS
    ext = _extension(filename)
    if ext not in SUPPORTED_EXTENSIONS:
        raise DocumentError(DocumentErrorKind.UNSUPPORTED, f"extension {ext!r}")
    if len(data) > MAX_FILE_BYTES:
        raise DocumentError(DocumentErrorKind.TOO_LARGE, f"{len(data)} bytes")
    if not data.strip():
        raise DocumentError(DocumentErrorKind.EMPTY, "no content")
    if ext == "docx":
        _check_docx_size(data)

    text = _Text(MAX_DOCUMENT_CHARS)
    limit = None
    pieces = _READERS[ext](data, deadline)
    read = 0
    try:
        for piece in pieces:
            read += 1
            text.add(piece)
            if text.full:
                limit = ReadLimit.TRUNCATED
                break
    except _Stop as stop:
        limit = stop.limit
    except DocumentError:
        raise
    except Exception as exc:  # each parser has its own error types; all mean "corrupt"
        raise DocumentError(DocumentErrorKind.UNREADABLE, f"{type(exc).__name__}: {exc}") from exc
    finally:
        pieces.close()  # stops a PDF worker still reading

    result = text.text()
    if not result:
        if limit == ReadLimit.TIME_LIMIT:
            raise DocumentError(DocumentErrorKind.TOO_COMPLEX, "a limit came before any text")
        # e.g. a scanned PDF (images only) or a CSV with just a header row
        raise DocumentError(DocumentErrorKind.EMPTY, "no text extracted")
    return ExtractedText(text=result, limit=limit, pages=read if ext == "pdf" else None)


# ------------------------------------------------------------------------ summarisation


def split_for_summary(text: str, chunk_chars: int = 8000, overlap: int = 400) -> list[str]:
    """Split text into chunks of at most `chunk_chars`, preferring paragraph boundaries."""
    splitter = RecursiveCharacterTextSplitter(chunk_size=chunk_chars, chunk_overlap=overlap)
    return splitter.split_text(text)


def _wrap_document(text: str) -> str:
    # A literal closing tag in the content would end the <document>/<summaries> block early
    # and let the rest of the file pose as instructions: the prompts' tags are escaped.
    return f"<document>\n{neutralise_tags(text)}\n</document>"


def _part_messages(part: str, index: int, total: int, korean: bool) -> list[BaseMessage]:
    ask = summary_part_request(index, total, korean)
    return [SystemMessage(summary_prompt(korean)), HumanMessage(f"{ask}\n\n{_wrap_document(part)}")]


def _combine_messages(summaries: Sequence[str], korean: bool) -> list[BaseMessage]:
    ask = summary_combine_request(korean)
    body = neutralise_tags(_join_summaries(summaries))
    return [
        SystemMessage(summary_prompt(korean)),
        HumanMessage(f"{ask}\n\n<summaries>\n{body}\n</summaries>"),
    ]


def _join_summaries(summaries: Sequence[str]) -> str:
    total = len(summaries)
    return "\n\n".join(f"[{i}/{total}] {s.strip()}" for i, s in enumerate(summaries, 1))


def summarize(
    model: BaseChatModel,
    text: str,
    *,
    korean: bool,
    chunk_chars: int = 8000,
    max_concurrency: int = 4,
) -> Iterator[AIMessageChunk]:
    """Summarise `text`, yielding the streamed chunks of the final answer.

    Short text is one streamed call. Longer text is summarised per chunk with
    `model.batch` (map), then the part summaries are combined by a streamed call (reduce).
    Before the reduce stream, one empty chunk carrying the map phase's summed
    `usage_metadata` is yielded (if the model reported any) so token accounting that adds up
    the chunks' usage sees the whole cost. Model errors propagate to the caller.
    """
    if not text.strip():
        raise DocumentError(DocumentErrorKind.EMPTY, "nothing to summarise")
    if len(text) <= chunk_chars:
        yield from model.stream(
            [SystemMessage(summary_prompt(korean)), HumanMessage(_wrap_document(text))]
        )
        return

    overlap = chunk_chars // 20  # 400 for the default 8000; keeps small chunk sizes valid
    parts = split_for_summary(text, chunk_chars, overlap)
    usage: UsageMetadata | None = None
    summaries: list[str] = []
    for _ in range(_MAX_MAP_ROUNDS):
        total = len(parts)
        responses = model.batch(
            [_part_messages(part, i, total, korean) for i, part in enumerate(parts, 1)],
            config={"max_concurrency": max_concurrency},
        )
        for response in responses:
            if getattr(response, "usage_metadata", None):
                usage = add_usage(usage, response.usage_metadata)
        summaries = [response.text for response in responses]
        joined = _join_summaries(summaries)
        if len(joined) <= chunk_chars:
            break
        # Too long to combine in one go: summarise the summaries again. If a round would not
        # shrink anything, go straight to the combine step (bounded either way).
        next_parts = split_for_summary(joined, chunk_chars, overlap)
        if len(next_parts) >= len(parts):
            break
        parts = next_parts

    if usage:
        yield AIMessageChunk(content="", usage_metadata=usage)
    yield from model.stream(_combine_messages(summaries, korean))
