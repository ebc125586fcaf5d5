"""Time and memory of extracting an uploaded file's text, next to today's LangChain loaders.

Builds each file below in a temp dir, then extracts it in a process of its own, twice:

- new: ``chatbot.documents.extract_text``, as the chat page calls it.
- baseline: the extraction before this change, kept here: LangChain's ``PyPDFLoader``,
  ``Docx2txtLoader``, ``CSVLoader`` or ``TextLoader`` on a temp file, ``.load()``, the whole
  text cleaned, then cut at ``MAX_DOCUMENT_CHARS``. Stopped after ``--baseline-timeout``
  seconds or at ``--baseline-memory-mb`` of address space (``RLIMIT_AS``).

The files: the three shapes of the issue (a 6 MB CSV of 3 million rows, a 40 KB DOCX of
5 million empty paragraphs, a 2 KB PDF whose pages share one content stream); each type at
about the 20 MB upload limit (prose, a table, paragraphs, text pages with photos); and
shapes found on the way (20 MB of blank lines, one 20 MB CSV row, a PDF page naming one big
ToUnicode CMap under 100 font names, a page invoking one form 5,000 times, a DOCX part with a
150 MB comment).

Each process reads the file first, then times the extraction alone. Memory: the growth of
its peak RSS over the extraction (VmHWM, reset through ``/proc/self/clear_refs`` just before;
the file's bytes are already in memory, as an upload is), plus the peak RSS of the PDF worker
process, if one ran (``RUSAGE_CHILDREN``).

    python -m bench.uploads [--only NAME ...] [--no-baseline] [--baseline-timeout 40]
                            [--baseline-memory-mb 4096]

A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import child
from bench.common import scratch, total_run_line, versions_line
from chatbot.documents import MAX_DOCUMENT_CHARS, MAX_FILE_BYTES

GOAL_S = 5.0
GOAL_MB = 300
SEED = 20261127
TARGET = MAX_FILE_BYTES - 64 * 1024  # "about 20 MB": just under the upload limit
WORD = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"

_KO_WORDS = (
    "서울", "부산", "주말", "여행", "추천", "회의록", "요약", "번역", "고객", "리뷰", "배송",
    "만족", "일정", "보고서", "작성", "검토", "분석", "결과", "데이터", "정리", "그리고",
    "하지만", "그래서", "정말", "빠르게", "자세히", "한강", "공원", "박물관", "시장", "예약",
)  # fmt: skip
_EN_WORDS = (
    "please", "summarize", "the", "meeting", "notes", "review", "delivery", "customer",
    "schedule", "report", "analysis", "result", "data", "and", "but", "very", "quickly",
    "detail", "price", "weekend", "trip", "museum", "market", "positive", "negative",
)  # fmt: skip


# --------------------------------------------------------------------------- files


class Prose:
    """Seeded sentences, Korean first, as the app's users write."""

    def __init__(self, seed: int = SEED) -> None:
        self.rng = random.Random(seed)

    def sentence(self, ascii_only: bool = False) -> str:
        words = _EN_WORDS if ascii_only or self.rng.random() < 0.3 else _KO_WORDS
        return " ".join(self.rng.choices(words, k=self.rng.randint(5, 14))) + "."


def _cut_utf8(data: bytes, size: int) -> bytes:
    return data[:size].decode("utf-8", "ignore").encode()


def txt_prose() -> bytes:
    prose, lines, size = Prose(), [], 0
    while size < TARGET:
        line = " ".join(prose.sentence() for _ in range(4)) + "\n"
        lines.append(line)
        size += len(line.encode())
    return _cut_utf8("".join(lines).encode(), TARGET)


def md_prose() -> bytes:
    prose, parts, size, n = Prose(SEED + 1), [], 0, 0
    while size < TARGET:
        n += 1
        part = f"## 제목 {n}\n\n" + " ".join(prose.sentence() for _ in range(6)) + "\n\n"
        part += "- " + prose.sentence() + "\n- " + prose.sentence() + "\n\n"
        parts.append(part)
        size += len(part.encode())
    return _cut_utf8("".join(parts).encode(), TARGET)


def csv_table() -> bytes:
    rng, prose = random.Random(SEED), Prose(SEED + 2)
    cities = ("서울", "부산", "대구", "인천", "광주", "대전")
    rows, size, n = ["번호,이름,도시,나이,메모,날짜\n"], 0, 0
    while size < TARGET:
        n += 1
        row = (
            f"{n},사용자{rng.randint(1, 9999)},{rng.choice(cities)},{rng.randint(18, 90)},"
            f'"{prose.sentence()}",2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}\n'
        )
        rows.append(row)
        size += len(row.encode())
    return _cut_utf8("".join(rows).encode(), TARGET).rsplit(b"\n", 1)[0] + b"\n"


def csv_rows(rows: int = 3_000_000) -> bytes:
    return b"v\n" + b"1\n" * rows


def csv_wide_row() -> bytes:
    names: list[str] = []
    size = 0
    while size < TARGET - 16:
        names.append(f"c{len(names)}")
        size += len(names[-1]) + 3  # the name and its comma, the cell "x" and its comma
    return (",".join(names) + "\n" + ",".join("x" for _ in names) + "\n").encode()


def txt_blank_lines() -> bytes:
    return b"The first line.\n" + b"\n" * (TARGET - 32) + b"The last line.\n"


def _docx(write_body: Callable[[Any, Callable[[], int]], None], headers: bool = False) -> bytes:
    """A DOCX whose word/document.xml body ``write_body(stream, zipped_size)`` writes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        if headers:
            archive.writestr(
                "word/header1.xml",
                f'<w:hdr xmlns:w="{WORD}"><w:p><w:r><w:t>Header</w:t></w:r></w:p></w:hdr>',
            )
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(f'<?xml version="1.0"?><w:document xmlns:w="{WORD}"><w:body>'.encode())
            write_body(member, buf.tell)
            member.write(b"</w:body></w:document>")
    return buf.getvalue()


def _paragraph(text: str) -> bytes:
    return f"<w:p><w:r><w:t>{text}</w:t></w:r></w:p>".encode()


def docx_empty_paragraphs(count: int = 5_000_000) -> bytes:
    def body(out: Any, _zipped: Callable[[], int]) -> None:
        for _ in range(count // 100_000):
            out.write(b"<w:p/>" * 100_000)
        out.write(_paragraph("The only text, after five million empty paragraphs."))

    return _docx(body)


def docx_prose() -> bytes:
    prose = Prose(SEED + 3)

    def body(out: Any, zipped: Callable[[], int]) -> None:
        # Random words compress about 3x: write until the zip is near the limit.
        while zipped() < TARGET - 256 * 1024:
            runs = "".join(
                f"<w:r><w:t xml:space='preserve'>{prose.sentence()} </w:t><w:tab/></w:r>"
                for _ in range(4)
            )
            out.write(f"<w:p>{runs}</w:p>".encode())

    return _docx(body, headers=True)


def docx_comment(size: int = 150 * 1024 * 1024) -> bytes:
    def body(out: Any, _zipped: Callable[[], int]) -> None:
        out.write(_paragraph("Before the comment."))
        out.write(b"<!--")
        for _ in range(size // (1024 * 1024)):
            out.write(b"x" * (1024 * 1024))
        out.write(b"-->")
        out.write(_paragraph("After the comment."))

    return _docx(body)


class Pdf:
    """A PDF written object by object, with a correct xref table."""

    def __init__(self) -> None:
        self.objects: list[bytes] = []

    def add(self, body: bytes | str) -> int:
        self.objects.append(body.encode() if isinstance(body, str) else body)
        return len(self.objects)

    def stream(self, entries: str, data: bytes, compress: bool = True) -> int:
        if compress:
            data = zlib.compress(data, 9)
            entries += " /Filter /FlateDecode"
        return self.add(
            f"<< {entries} /Length {len(data)} >>\nstream\n".encode() + data + b"\nendstream"
        )

    def set(self, number: int, body: str) -> None:
        self.objects[number - 1] = body.encode()

    def build(self, root: int) -> bytes:
        out = bytearray(b"%PDF-1.7\n")
        offsets = []
        for number, body in enumerate(self.objects, 1):
            offsets.append(len(out))
            out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(self.objects) + 1}\n0000000000 65535 f \n".encode()
        out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
        out += (
            f"trailer\n<< /Size {len(self.objects) + 1} /Root {root} 0 R >>\n"
            f"startxref\n{xref}\n%%EOF\n"
        ).encode()
        return bytes(out)

    def catalog(self, kids: list[tuple[int, str]]) -> bytes:
        """One page per (content stream number, resources) under one page tree node."""
        tree = self.add("")
        pages = [
            self.add(
                f"<< /Type /Page /Parent {tree} 0 R /MediaBox [0 0 612 792] "
                f"/Resources << {resources} >> /Contents {kid} 0 R >>"
            )
            for kid, resources in kids
        ]
        refs = " ".join(f"{page} 0 R" for page in pages)
        self.set(tree, f"<< /Type /Pages /Kids [{refs}] /Count {len(pages)} >>")
        return self.build(self.add(f"<< /Type /Catalog /Pages {tree} 0 R >>"))


def _helvetica(pdf: Pdf) -> int:
    return pdf.add("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")


def _text_page(lines: list[str]) -> bytes:
    shown = " ".join(f"({line}) '" for line in lines)
    return f"BT /F1 11 Tf 60 740 Td 14 TL {shown} ET".encode()


def pdf_shared_stream(fan: tuple[int, int] = (10, 11)) -> bytes:
    """Every page is the same page object under a page tree that names it over and over,
    and its one content stream is cheap to store and dear to read."""
    pdf = Pdf()
    font = _helvetica(pdf)
    content = pdf.stream(
        "",
        b"BT /F1 12 Tf 72 720 Td (Every page shows this one shared content stream.) Tj ET "
        + b"0 0 m " * 30_000,
    )
    root_tree, inner, page = pdf.add(""), pdf.add(""), pdf.add("")
    pdf.set(
        page,
        f"<< /Type /Page /Parent {inner} 0 R /MediaBox [0 0 612 792] "
        f"/Resources << /Font << /F1 {font} 0 R >> >> /Contents {content} 0 R >>",
    )
    kids = " ".join([f"{page} 0 R"] * fan[1])
    pdf.set(inner, f"<< /Type /Pages /Parent {root_tree} 0 R /Kids [{kids}] /Count {fan[1]} >>")
    kids = " ".join([f"{inner} 0 R"] * fan[0])
    pdf.set(root_tree, f"<< /Type /Pages /Kids [{kids}] /Count {fan[0] * fan[1]} >>")
    return pdf.build(pdf.add(f"<< /Type /Catalog /Pages {root_tree} 0 R >>"))


def pdf_pages_with_photos(target: int = TARGET) -> bytes:
    """Text pages (ASCII: Helvetica has no Hangul) and a 200 KB photo every third page."""
    data = _pdf_pages_with_photos(target)
    return data if len(data) <= target else _pdf_pages_with_photos(2 * target - len(data))


def _pdf_pages_with_photos(target: int) -> bytes:
    prose, rng = Prose(SEED + 4), random.Random(SEED)
    pdf = Pdf()
    font = _helvetica(pdf)
    photo_size = 256 * 256 * 3
    photos: list[int] = []
    kids: list[int] = []
    size = 0
    while size < target - 2 * photo_size:
        lines = [prose.sentence(ascii_only=True) for _ in range(45)]
        content = _text_page(lines)
        if len(kids) % 3 == 0:
            photos.append(
                pdf.stream(
                    "/Type /XObject /Subtype /Image /Width 256 /Height 256 "
                    "/ColorSpace /DeviceRGB /BitsPerComponent 8",
                    rng.randbytes(photo_size),
                    compress=False,
                )
            )
            content += f" q 200 0 0 200 300 60 cm /Im{len(photos) - 1} Do Q".encode()
            size += photo_size
        kids.append(pdf.stream("", content))
        size += len(zlib.compress(content, 9)) + 300
    xobjects = " ".join(f"/Im{n} {number} 0 R" for n, number in enumerate(photos))
    resources = f"/Font << /F1 {font} 0 R >> /XObject << {xobjects} >>"
    return pdf.catalog([(kid, resources) for kid in kids])


def _cmap(entries: int) -> bytes:
    lines = [b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap"]
    lines.append(b"1 begincodespacerange <0000> <FFFF> endcodespacerange")
    for start in range(0, entries, 100):
        count = min(100, entries - start)
        lines.append(f"{count} beginbfchar".encode())
        lines += [f"<{c:04X}> <{0x4E00 + c:04X}>".encode() for c in range(start, start + count)]
        lines.append(b"endbfchar")
    lines.append(b"endcmap CMapName currentdict /CMap defineresource pop end end")
    return b"\n".join(lines)


def pdf_many_font_names(names: int = 100, entries: int = 60_000) -> bytes:
    """Page 1 is plain text; page 2 names one font with a 60,000-entry ToUnicode CMap 100
    times, and pypdf reads that CMap again for every name."""
    pdf = Pdf()
    cmap = pdf.stream("", _cmap(entries))
    font = pdf.add(f"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /ToUnicode {cmap} 0 R >>")
    first = pdf.stream("", _text_page(["Page one is plain text.", "Page two is not."]))
    second = pdf.stream("", b"BT /F0 12 Tf 72 720 Td (a) Tj ET")
    fonts = " ".join(f"/F{n} {font} 0 R" for n in range(names))
    helvetica = _helvetica(pdf)
    return pdf.catalog(
        [(first, f"/Font << /F1 {helvetica} 0 R >>"), (second, f"/Font << {fonts} >>")]
    )


def pdf_form_invocations(calls: int = 5_000, shows: int = 300) -> bytes:
    """Page 1 is plain text; page 2 invokes one form XObject 5,000 times."""
    pdf = Pdf()
    font = _helvetica(pdf)
    form = pdf.stream(
        f"/Type /XObject /Subtype /Form /BBox [0 0 612 792] "
        f"/Resources << /Font << /F1 {font} 0 R >> >>",
        b"BT /F1 1 Tf (a) Tj ET " * shows,
    )
    first = pdf.stream("", _text_page(["Page one is plain text.", "Page two is not."]))
    second = pdf.stream("", b"/X0 Do " * calls)
    resources = f"/Font << /F1 {font} 0 R >> /XObject << /X0 {form} 0 R >>"
    return pdf.catalog([(first, resources), (second, resources)])


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], bytes]
    group: str


CASES = (
    Case("rows-3m.csv", csv_rows, "the issue's shapes"),
    Case("empty-paragraphs-5m.docx", docx_empty_paragraphs, "the issue's shapes"),
    Case("shared-stream.pdf", pdf_shared_stream, "the issue's shapes"),
    Case("prose-20mb.txt", txt_prose, "each type at about 20 MB"),
    Case("prose-20mb.md", md_prose, "each type at about 20 MB"),
    Case("table-20mb.csv", csv_table, "each type at about 20 MB"),
    Case("paragraphs-20mb.docx", docx_prose, "each type at about 20 MB"),
    Case("photos-20mb.pdf", pdf_pages_with_photos, "each type at about 20 MB"),
    Case("blank-lines-20mb.txt", txt_blank_lines, "shapes found on the way"),
    Case("one-wide-row-20mb.csv", csv_wide_row, "shapes found on the way"),
    Case("font-names.pdf", pdf_many_font_names, "shapes found on the way"),
    Case("form-calls.pdf", pdf_form_invocations, "shapes found on the way"),
    Case("comment-150mb.docx", docx_comment, "shapes found on the way"),
)


# --------------------------------------------------------------------------- baseline


_OLD_BLANK_LINES = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_OLD_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _old_clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _OLD_CONTROL_CHARS.sub("", text)
    text = _OLD_BLANK_LINES.sub("\n\n", text)
    return text.strip()


def baseline_extract(name: str, data: bytes) -> tuple[str, bool, int | None]:
    """extract_text before this change: (text, truncated, pages); raises on a bad file."""
    from langchain_community.document_loaders import (
        CSVLoader,
        Docx2txtLoader,
        PyPDFLoader,
        TextLoader,
    )

    ext = name.rsplit(".", 1)[-1]
    if ext == "docx":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            if sum(info.file_size for info in archive.infolist()) > 200 * 1024 * 1024:
                raise ValueError("too_large: DOCX unpacks to more than 200 MB")
    with tempfile.TemporaryDirectory(prefix="bench-upload-") as tmp:
        path = Path(tmp) / f"upload.{ext}"
        path.write_bytes(data)
        if ext == "pdf":
            loader: Any = PyPDFLoader(path, mode="page")
        elif ext == "docx":
            loader = Docx2txtLoader(path)
        else:
            encoding = "utf-8-sig"
            try:
                data.decode(encoding)
            except UnicodeDecodeError:
                encoding = "cp949"
            if ext == "csv":
                args = {"restval": "", "restkey": "extra"}
                loader = CSVLoader(path, encoding=encoding, csv_args=args)
            else:
                loader = TextLoader(path, encoding=encoding)
        docs = loader.load()
    text = _old_clean("\n\n".join(_old_clean(doc.page_content) for doc in docs))
    truncated = len(text) > MAX_DOCUMENT_CHARS
    return text[:MAX_DOCUMENT_CHARS], truncated, len(docs) if ext == "pdf" else None


# --------------------------------------------------------------------------- child


def run_one(side: str, path: Path, memory_mb: int) -> dict[str, Any]:
    """In a child: extract ``path`` once; seconds, memory and what came out."""
    warnings.simplefilter("ignore")  # langchain-community's sunset warning, pypdf's notes
    data = path.read_bytes()
    if side == "baseline":
        import langchain_community.document_loaders  # noqa: F401  (imports apart from the time)

        cap = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    else:
        import chatbot.documents  # noqa: F401
    before = child.reset_peak_rss()
    if before is None:
        raise RuntimeError("the peak RSS needs Linux's /proc/self/clear_refs")
    started = time.perf_counter()
    result: dict[str, Any] = {}
    try:
        if side == "baseline":
            text, truncated, pages = baseline_extract(path.name, data)
            result.update(limit="truncated" if truncated else None, pages=pages)
        else:
            from chatbot.documents import extract_text

            extracted = extract_text(path.name, data)
            text = extracted.text
            result.update(limit=extracted.limit, pages=extracted.pages)
        result.update(
            chars=len(text), sha=hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()
        )
    except MemoryError:
        result.update(error="memory")
    except Exception as exc:  # the figures matter, not the error's type
        result.update(error=getattr(exc, "kind", None) or type(exc).__name__)
    result["seconds"] = time.perf_counter() - started
    peak = child.status_kb("VmHWM")
    assert peak is not None  # the file VmRSS was read from above
    result["self_mb"] = (peak - before) / 1024
    result["worker_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return result


# --------------------------------------------------------------------------- parent


def run_child(side: str, path: Path, args: argparse.Namespace) -> dict[str, Any]:
    options = [
        "--run", side, "--file", str(path), "--baseline-memory-mb", str(args.baseline_memory_mb),
    ]  # fmt: skip
    timeout = args.baseline_timeout if side == "baseline" else 120
    started = time.perf_counter()
    try:
        done = child.run("bench.uploads", options, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"stopped": f"> {timeout:g} s (stopped)", "seconds": time.perf_counter() - started}
    if done.result is not None:
        return done.result
    tail = " ".join(done.stderr.strip().splitlines()[-1:])
    return {"stopped": f"died ({done.returncode}): {tail[:60]}"}


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n / 1e3:.1f} KB"


def _outcome(r: dict[str, Any]) -> str:
    if "stopped" in r:
        return r["stopped"]
    if "error" in r:
        return f"error: {r['error']}"
    pages = f", {r['pages']} p." if r.get("pages") is not None else ""
    return f"{r['chars']:,} chars{pages}, {r['limit'] or 'whole'}"


def _figures(r: dict[str, Any]) -> str:
    if "stopped" in r:
        return f"{'':>7}{'':>8}"
    mb = r["self_mb"] + r["worker_mb"]
    return f"{r['seconds']:>7.2f}{mb:>8.0f}"


Row = tuple[Case, int, dict[str, Any], dict[str, Any]]  # the file's size, new, baseline


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="run only the files whose name has one of these")
    parser.add_argument("--no-baseline", action="store_true", help="skip today's loaders")
    parser.add_argument("--baseline-timeout", type=float, default=40, help="seconds per file")
    parser.add_argument("--baseline-memory-mb", type=int, default=4096, help="RLIMIT_AS")
    parser.add_argument("--run", choices=("new", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--file", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def measure(cases: list[Case], args: argparse.Namespace) -> list[Row]:
    """Each file built, then extracted the new way and the baseline way."""
    rows = []
    with scratch("uploads") as tmp:
        for case in cases:
            built = time.perf_counter()
            path = tmp / case.name
            path.write_bytes(case.build())
            build_s = time.perf_counter() - built
            new = run_child("new", path, args)
            base = {} if args.no_baseline else run_child("baseline", path, args)
            rows.append((case, path.stat().st_size, new, base))
            print(f"  {case.name}: built in {build_s:.1f} s, measured", flush=True)
    return rows


def print_table(rows: list[Row]) -> list[str]:
    """The figures of every file; the names of those that missed the goal."""
    print()
    print(
        f"{'file':<26}{'size':>9}{'s':>7}{'MB':>8}  {'new: text, limit':<36}"
        f"{'s':>7}{'MB':>8}  {'baseline: text'}"
    )
    misses = []
    group = ""
    for case, size, new, base in rows:
        if case.group != group:
            group = case.group
            print(f"-- {group}")
        same = ""
        if base and "sha" in base and "sha" in new:
            same = "  (same text)" if base["sha"] == new["sha"] else "  (other text)"
        baseline = f"{_figures(base)}  {_outcome(base)}{same}" if base else ""
        print(f"{case.name:<26}{_size(size):>9}{_figures(new)}  {_outcome(new):<36}{baseline}")
        mb = new.get("self_mb", 0) + new.get("worker_mb", 0)
        if "stopped" in new or new["seconds"] > GOAL_S or mb > GOAL_MB:
            misses.append(case.name)
    return misses


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.run:  # a child: one extraction of one file
        child.report(run_one(args.run, args.file, args.baseline_memory_mb))
        return 0

    print(versions_line("pypdf", "langchain-community", "docx2txt"))
    print(
        f"budget {MAX_DOCUMENT_CHARS:,} chars; each extraction in a process of its own; "
        f"baseline stopped after {args.baseline_timeout:g} s or {args.baseline_memory_mb} MB"
    )
    cases = [c for c in CASES if not args.only or any(o in c.name for o in args.only)]
    started = time.perf_counter()
    misses = print_table(measure(cases, args))
    print()
    print("s: wall seconds of extract_text; MB: its peak RSS growth plus the PDF worker's peak")
    print("limit: truncated (200,000 chars), page_limit, time_limit (time or the PDF worker's")
    print("memory); 'whole': all text read. error: the DocumentError kind shown instead")
    print()
    verdict = "PASS" if not misses else f"MISS ({', '.join(misses)})"
    print(f"every file within {GOAL_S:g} s and {GOAL_MB} MB: {verdict}")
    print(total_run_line(started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
