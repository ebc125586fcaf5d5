"""The analysts' History page over a million dialogs: first view, filter changes and peak
memory, after (rollups and a page of rows) and before (the whole range read into pandas).

Stores, built once and kept in the temp dir's ``bench-history`` (``--rebuild`` to redo):

- SQLite, ``--sqlite-rows`` dialogs (default 1,000,000) of 3,000 users over the last 30
  reporting days (``CHAT_REPORT_TIMEZONE``'s, Asia/Seoul): every mode and the file summary,
  three models, a few % stopped, cut and failed (with their ``Problem``), about 5% rated
  (👎 with reasons), Korean, English and mixed answers, conversations of a few dialogs.
  Written as the app writes them: the store's upsert and its conversation summary's, by
  ``executemany`` in time order, a transaction per ``CHUNK`` dialogs, with the full-text
  triggers on. Then a copy gets its rollups: opened by the store (an older file is counted
  on open), then ``store.recount`` of its days. The dialogs are kept per reporting date and
  ``DATA_VERSION``, the copy per digest of the store's and the rollups' code.
- SQLite baseline, ``--baseline-rows`` (100,000) within the page's default 7 days: the
  issue's baseline, the whole of it in the first view.
- DynamoDB, ``--dynamo-rows`` (100,000) over 30 days in moto's server (``loopback``), in
  this process: the table from ``create_table``, the items by ``batch_write_item`` (through
  the store's ``put``, a TransactWriteItems each, moto would take hours), then
  ``store.recount`` writes the rollup items.

Each measurement runs in a process of its own (``--scenario``, this module again), which
first does the same on a 2,000-dialog store of the same shape (imports, first runs), then
once on the big one:

- page: ``AppTest`` of ``app.py``, a local-mode analyst, the chat page, then the timed steps
  ``VIEWS``: ``switch_page("pages/history.py")`` (the first view: the page's default
  range), the model filter set to one model, a status filter added, the filters cleared
  (not timed), the 30-day range, the same two filters. Wall and CPU time of each ``run()``,
  VmHWM after it (the peak RSS, reset through ``/proc/self/clear_refs`` before the step)
  and its growth. ``--page-repeats`` processes, each cold. With ``--before-dir``, the same
  on the app code of that checkout (``git worktree add DIR b8893a5``) under an address-space
  cap (``--before-cap-gb``): that page reads the range into a DataFrame, and has no model
  filter.
- data path: ``store.rollup_cells``, ``analytics.totals``, one ``store.dialog_page`` of the
  page's rows, and ``store.rollup_users`` (the Users tab), for both ranges.
- raw (DynamoDB): boto3 Queries of the range's rollup cells, kept as raw dicts, a day each,
  plus one Query page of the ``by_day`` index (``Limit`` = the page's rows, newest first).

    python -m bench.history [--sqlite-rows 1000000] [--baseline-rows 100000]
        [--dynamo-rows 100000] [--page-repeats 3] [--dynamo-page-repeats 2]
        [--data-repeats 5] [--dynamo-repeats 2] [--before-dir DIR] [--before-cap-gb 12]
        [--only sqlite|baseline|dynamo ...] [--rebuild] [--build-only] [--profile]

``--profile`` adds a cProfile of each step of one more page sequence (script and test
threads) and of the data path. A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import hashlib
import io
import itertools
import json
import os
import pstats
import random
import re
import resource
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple
from zoneinfo import ZoneInfo

from bench import child
from bench.common import (
    APP,
    app_test,
    bench_env,
    environ_as,
    goal_line,
    proc_status_mb,
    scratch,
    total_run_line,
    versions_line,
)
from chatbot import pricing, rollups
from chatbot.config import MODEL_CHOICES
from chatbot.errors import Problem
from chatbot.modes import SUMMARY
from chatbot.store.base import (
    Dialog,
    DialogType,
    FeedbackReason,
    Status,
    conversation_title,
    format_request_time,
)

if TYPE_CHECKING:
    from streamlit.testing.v1 import AppTest

PAGE = "pages/history.py"
ANALYST = "bench-analyst"  # the local-mode user id the AppTest types; owns no dialogs
TABLE_PREFIX = "bench-history"
FOLDER = Path(tempfile.gettempdir()) / "bench-history"  # the built files, kept between runs
REPORT_TIMEZONE = ZoneInfo(rollups.DEFAULT_REPORT_TIMEZONE)
USERS = 3000
MONTH_DAYS = 30  # the big stores' span, and the long range the page is asked for
WEEK_DAYS = 7  # the page's default range: today and the six days before
SEED = 20261127
DATA_VERSION = 3  # bump when the generated dialogs change, to invalidate cached files
WARM_ROWS = 2000  # the small store each process warms up on: every filter finds some
CHUNK = 20_000  # dialogs per transaction while building
MODELS = MODEL_CHOICES[:3]  # the global and US Sonnet, the global Haiku
MODEL_WEIGHTS = (60, 30, 10)
FILTER_MODEL = MODELS[1]  # the filter steps' model: about a third of the dialogs
FILTER_STATUS = Status.STOPPED.value

# The timed steps of a page sequence, in order; "clear" (filters back to none) is not timed.
VIEWS = ("first", "model", "status", "month", "month-model", "month-status")
VIEW_LABELS = {
    "first": "first view (default range)",
    "model": "  + model filter, 1 model",
    "status": f"  + status filter ({FILTER_STATUS})",
    "month": f"{MONTH_DAYS}-day range, no filter",
    "month-model": "  + model filter, 1 model",
    "month-status": f"  + status filter ({FILTER_STATUS})",
}
FILTER_VIEWS = ("model", "status", "month-model", "month-status")
TAB = "tab "  # then the tab's label: a step that opens another tab on the 30-day range
TAB_KEY = "history_tab"  # the page's tabs' widget key, before and after
STEP = "STEP "  # a page child's line after each step, so a crash keeps what was done

FIRST_VIEW_GOAL_S = 2.0
FILTER_GOAL_S = 0.5
PEAK_GOAL_MB = 400
DYNAMO_GOAL_RATIO = 2.0

_KO_WORDS = (
    "서울", "부산", "주말", "여행", "추천", "해주세요", "회의록", "요약", "번역", "문법",
    "고객", "리뷰", "배송", "만족", "불만", "이메일", "주소", "전화번호", "일정", "다음",
    "월요일", "오후", "세 시", "보고서", "작성", "검토", "분석", "결과", "데이터", "정리",
    "그리고", "하지만", "그래서", "정말", "아주", "조금", "빠르게", "자세히", "알려", "주세요",
    "한강", "공원", "박물관", "시장", "카페", "산책", "야경", "맛집", "가격", "예약",
)  # fmt: skip
_EN_WORDS = (
    "please", "summarize", "the", "meeting", "notes", "translate", "this", "review", "about",
    "delivery", "customer", "email", "address", "schedule", "next", "Monday", "report",
    "analysis", "result", "data", "and", "but", "so", "very", "quickly", "detail", "price",
    "Seoul", "Busan", "weekend", "trip", "recommend", "museum", "market", "cafe", "night",
    "view", "grammar", "check", "sentence", "topic", "sentiment", "positive", "negative",
)  # fmt: skip
# Modes as people pick them; a conversation keeps its mode and model.
_MODE_WEIGHTS = {
    "normal": 50, "translation": 12, "grammar": 8, "sentiment": 5, "extraction": 6,
    "pii": 4, "step-by-step": 10, "timestamp-extraction": 5,
}  # fmt: skip
_ERROR_KINDS = (
    (Problem.THROTTLED, 40), (Problem.UNAVAILABLE, 20), (Problem.UNREACHABLE, 10),
    (Problem.EXPIRED_CREDENTIALS, 10), (Problem.ACCESS_DENIED, 5),
    (Problem.MODEL_NOT_ENABLED, 5), (Problem.UNEXPECTED, 10),
)  # fmt: skip


# --------------------------------------------------------------------------- ranges


def report_today() -> date:
    return datetime.now(REPORT_TIMEZONE).date()


def day_start(day: date) -> datetime:
    """Midnight that begins ``day`` in the reporting time zone, in UTC."""
    return datetime.combine(day, datetime.min.time(), REPORT_TIMEZONE).astimezone(UTC)


def last_days(count: int, today: date) -> tuple[date, date]:
    """The first and last day of the ``count`` days that end with ``today``."""
    return today - timedelta(days=count - 1), today


def _mb(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:,.0f}"


# --------------------------------------------------------------------------- data


def _corpus(rng: random.Random, words: tuple[str, ...], chars: int) -> str:
    parts: list[str] = []
    size = 0
    while size < chars:
        sentence = " ".join(rng.choices(words, k=rng.randint(5, 14))) + ". "
        parts.append(sentence)
        size += len(sentence)
    return "".join(parts)


class TextSource:
    """Korean, English and mixed text of any length: slices of seeded random corpora, each
    with its characters per model token (Korean takes about three times as many tokens)."""

    def __init__(self, rng: random.Random) -> None:
        ko = _corpus(rng, _KO_WORDS, 200_000)
        en = _corpus(rng, _EN_WORDS, 200_000)
        mixed = "".join(f"{a}{b}" for a, b in zip(ko.split(". "), en.split(". "), strict=False))
        self.languages = {"ko": (ko, 1.4), "en": (en, 4.2), "mixed": (mixed, 2.2)}
        self.rng = rng

    def text(self, language: str, low: int, high: int) -> str:
        corpus = self.languages[language][0]
        length = self.rng.randint(low, high)
        start = self.rng.randrange(len(corpus) - length)
        return corpus[start : start + length].strip() or "?"

    def tokens(self, language: str, text: str) -> int:
        return max(1, round(len(text) / self.languages[language][1]))


class _Conversation:
    """What a user's dialogs in one conversation share."""

    def __init__(self, rng: random.Random, document: bool) -> None:
        self.id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        self.document = document
        # A file's conversation: its summary, then questions about it in the normal mode.
        self.mode = (
            "normal" if document else rng.choices(*zip(*_MODE_WEIGHTS.items(), strict=True))[0]
        )
        self.model = rng.choices(MODELS, MODEL_WEIGHTS)[0]
        self.language = rng.choices(("ko", "en", "mixed"), (60, 25, 15))[0]
        self.turns = 0


def make_dialogs(count: int, first: datetime, last: datetime, seed: int = SEED) -> Iterator[Dialog]:
    """``count`` dialogs of ``USERS`` users between ``first`` and ``last``, in time order."""
    rng = random.Random(seed)
    texts = TextSource(rng)
    users = [f"user-{n:04d}" if n % 5 else f"사용자-{n:04d}" for n in range(USERS)]
    # A few people ask most: Zipf-like weights, the busiest about 1.7% of all dialogs.
    weights = list(itertools.accumulate(1 / (rank + 1) ** 0.6 for rank in range(USERS)))
    chats: dict[str, _Conversation] = {}
    sessions: dict[str, str] = {}
    span_ms = int((last - first).total_seconds() * 1000)
    offsets = sorted(rng.randrange(span_ms) for _ in range(count))
    askers = rng.choices(users, cum_weights=weights, k=count)
    for offset, user in zip(offsets, askers, strict=True):
        chat = chats.get(user)
        if chat is None or rng.random() < 0.3:  # about three dialogs a conversation
            chat = chats[user] = _Conversation(rng, document=rng.random() < 0.05)
        if user not in sessions or rng.random() < 0.05:
            sessions[user] = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        yield _dialog(rng, texts, user, first + timedelta(milliseconds=offset), chat, sessions)
        chat.turns += 1


def _dialog(
    rng: random.Random,
    texts: TextSource,
    user: str,
    at: datetime,
    chat: _Conversation,
    sessions: dict[str, str],
) -> Dialog:
    request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    summary = chat.document and chat.turns == 0  # the file's summary opens the conversation
    language = chat.language
    roll = rng.random()
    status = (
        Status.COMPLETE if roll < 0.93
        else Status.STOPPED if roll < 0.95
        else Status.CUT if roll < 0.965
        else Status.INCOMPLETE if roll < 0.98
        else Status.ERROR
    )  # fmt: skip
    body = (
        f"{rng.choice(('보고서', 'report', '회의록', 'minutes'))}-{rng.randint(1, 999)}.pdf"
        if summary
        else texts.text(language, 20, 250)
    )
    document_text = texts.text(language, 1000, 12_000) if summary else None
    msg = "" if status == Status.ERROR else texts.text(language, 150, 1200)
    if status == Status.CUT:  # the output limit: a long answer
        msg = texts.text(language, 2500, 4000)
    elif status in (Status.STOPPED, Status.INCOMPLETE):
        msg = msg[: rng.randint(10, len(msg))]
    error_kind = None
    if status == Status.INCOMPLETE:
        error_kind = Problem.STREAM_FAILED if rng.random() < 0.8 else Problem.UNAVAILABLE
    elif status == Status.ERROR:
        error_kind = rng.choices(*zip(*_ERROR_KINDS, strict=True))[0]
    metered = status not in (Status.ERROR, Status.INCOMPLETE)  # usage comes at the end
    input_tokens = output_tokens = cache_read = cache_write = cost = None
    if metered:
        context = texts.tokens(language, document_text or body)
        input_tokens = rng.randint(250, 600) + context + min(chat.turns, 10) * rng.randint(80, 400)
        output_tokens = texts.tokens(language, msg)
        cache_read = cache_write = 0
        if chat.turns and rng.random() < 0.7:  # the conversation's prefix, cached
            cache_read = int(input_tokens * rng.uniform(0.5, 0.9))
        elif rng.random() < 0.5:
            cache_write = int(input_tokens * rng.uniform(0.2, 0.6))
        price = pricing.price_of(chat.model)
        if price is not None:
            cost = pricing.cost_microusd(
                price,
                full_input=input_tokens - cache_read - cache_write,
                output=output_tokens,
                cache_read=cache_read,
                cache_write=cache_write,
            )
    ttft = None
    if status != Status.ERROR:
        ttft = int(rng.lognormvariate(6.2 if "haiku" in chat.model else 6.6, 0.45))
    per_token = rng.uniform(8, 14) if "haiku" in chat.model else rng.uniform(14, 25)
    latency = (ttft or 0) + int((output_tokens or len(msg) // 2) * per_token) + 50
    feedback = reason = comment = None
    if status != Status.ERROR:
        roll = rng.random()
        if roll < 0.03:
            feedback = "up"
        elif roll < 0.05:
            feedback = "down"
            if rng.random() < 0.85:
                reason = rng.choice(list(FeedbackReason)).value
            if rng.random() < 0.25:
                comment = texts.text(language, 10, 200)
    stop_reason = {Status.COMPLETE: "end_turn", Status.CUT: "max_tokens"}.get(status)
    return Dialog(
        user_id=user,
        request_time=format_request_time(at, request_id),
        request_id=request_id,
        type=DialogType.DOCUMENT.value if summary else DialogType.TEXT.value,
        body=body,
        msg=msg,
        mode=SUMMARY.id if summary else chat.mode,
        model_id=chat.model,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        ttft_ms=ttft,
        latency_ms=latency,
        status=status.value,
        feedback=feedback,
        session_id=sessions[user],
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
        conversation_id=chat.id,
        stop_reason=stop_reason,
        superseded_by=str(uuid.UUID(int=rng.getrandbits(128))) if rng.random() < 0.02 else None,
        feedback_reason=reason,
        feedback_comment=comment,
        document_text=document_text,
        cost_microusd=cost,
        error_kind=error_kind,
    )


class Census:
    """How many dialogs were generated per day (reporting and UTC days) and per filter of
    the page's steps, so that each number the page shows is checked; and the texts' size."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {"report": Counter(), "utc": Counter()}
        self.text_bytes = 0
        self.dialogs = 0

    def add(self, dialog: Dialog) -> None:
        utc = datetime.fromisoformat(dialog.request_time[:23]).replace(tzinfo=UTC)
        model = dialog.model_id == FILTER_MODEL
        status = dialog.status == FILTER_STATUS
        for zone, day in (("report", utc.astimezone(REPORT_TIMEZONE).date()), ("utc", utc.date())):
            self.counts[zone].update(
                name
                for name, counted in (
                    (f"{day}", True),
                    (f"{day} model", model),
                    (f"{day} status", status),
                    (f"{day} model+status", model and status),
                )
                if counted
            )
        self.text_bytes += len(dialog.body.encode()) + len(dialog.msg.encode())
        self.dialogs += 1

    def as_json(self) -> dict[str, Any]:
        return {"counts": self.counts, "text_bytes": self.text_bytes / max(1, self.dialogs)}


def expected(meta: dict[str, Any], zone: str, first: str, last: str, kind: str) -> int:
    """The dialogs of the days ``first`` to ``last`` of ``zone`` passing the ``kind`` of
    filter ("" for none), as generated."""
    counts = meta["counts"][zone]
    span = rollups.days(date.fromisoformat(first), date.fromisoformat(last))
    return sum(counts.get(f"{day} {kind}".strip(), 0) for day in span)


def data_span(days: int, now: datetime) -> tuple[datetime, datetime]:
    """From the start of the reporting day ``days - 1`` days ago to a minute before ``now``:
    a range of that many reporting days holds every dialog."""
    first, _ = last_days(days, now.astimezone(REPORT_TIMEZONE).date())
    return day_start(first), now - timedelta(minutes=1)


def report_days(first: datetime, last: datetime) -> list[str]:
    """The reporting days of ``first`` and ``last``."""
    return [at.astimezone(REPORT_TIMEZONE).date().isoformat() for at in (first, last)]


def _chunks(dialogs: Iterator[Dialog], size: int) -> Iterator[list[Dialog]]:
    while chunk := list(itertools.islice(dialogs, size)):
        yield chunk


def write_dialogs(path: Path, count: int, days: int) -> dict[str, Any]:
    """The store's file at ``path`` with ``count`` dialogs, written as the app writes them."""
    from chatbot.store.sqlite import _SUMMARY_UPSERT, _UPSERT, SqliteStore

    now = datetime.now(UTC)
    first, last = data_span(days, now)
    census = Census()
    SqliteStore(path, report_timezone=REPORT_TIMEZONE)  # the schema and triggers, its way
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    generate_s = insert_s = 0.0
    started = time.perf_counter()
    for chunk in _chunks(make_dialogs(count, first, last), CHUNK):
        generated = time.perf_counter()
        for dialog in chunk:
            census.add(dialog)
        rows = [[*d, d.day] for d in chunk]
        summaries = [
            (
                d.user_id,
                d.conversation_id,
                conversation_title(d.type, d.body),
                d.request_time,
                d.request_time,
            )
            for d in chunk
        ]
        with db:  # one transaction per chunk, as a busy app's writes add up to
            db.executemany(_UPSERT, rows)
            db.executemany(_SUMMARY_UPSERT, summaries)
        inserted = time.perf_counter()
        generate_s += generated - started
        insert_s += inserted - generated
        started = inserted
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    text_index = db.execute("SELECT sum(length(block)) FROM dialogs_text_data").fetchone()[0]
    db.close()
    return {
        "generate_s": generate_s,
        "insert_s": insert_s,
        "text_index_bytes": text_index,
        "built_at": now.isoformat(),
        "days": report_days(first, last),
        **census.as_json(),
    }


def add_rollups(path: Path, first_day: str, last_day: str) -> dict[str, Any]:
    """Open the file with the store (which upgrades its schema), then recount the days."""
    from chatbot.store.sqlite import SqliteStore

    began = time.perf_counter()
    store = SqliteStore(path, report_timezone=REPORT_TIMEZONE)
    opened = time.perf_counter()
    counted = store.recount(first_day, last_day)
    recounted = time.perf_counter()
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return {"open_s": opened - began, "recount_s": recounted - opened, "recounted": counted}


def _store_code_key() -> str:
    """A digest of the code that writes and counts the rollups: a change rebuilds them."""
    from chatbot import rollups
    from chatbot.store import sqlite

    digest = hashlib.sha256()
    for module in (sqlite, rollups):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:10]


def _sidecars(path: Path) -> tuple[Path, Path]:
    """SQLite's write-ahead log and shared-memory index of the file at ``path``."""
    return Path(f"{path}-wal"), Path(f"{path}-shm")


def _fresh(path: Path, build: Callable[[Path], dict[str, Any]]) -> dict[str, Any]:
    """Build the file at ``path`` through a partial file, so a stopped build leaves none."""
    FOLDER.mkdir(exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
    for stale in (partial, *_sidecars(partial)):
        stale.unlink(missing_ok=True)
    meta = build(partial)
    for leftover in _sidecars(partial):
        leftover.unlink(missing_ok=True)
    os.replace(partial, path)
    path.with_suffix(".json").write_text(json.dumps(meta))
    return meta


def _stem(count: int, days: int) -> str:
    return f"dialogs-{count}-{days}d-{report_today():%Y%m%d}-v{DATA_VERSION}"


def rows_file(count: int, days: int, rebuild: bool) -> tuple[Path, dict[str, Any], bool]:
    """The cached file of the dialogs alone, built if missing; whether it was cached."""
    path = FOLDER / f"{_stem(count, days)}.rows.sqlite3"
    if not rebuild and path.exists() and path.with_suffix(".json").exists():
        return path, json.loads(path.with_suffix(".json").read_text()), True
    return path, _fresh(path, lambda partial: write_dialogs(partial, count, days)), False


def sqlite_file(count: int, days: int, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    """The cached file of ``count`` dialogs over ``days`` reporting days, built if missing.

    Two stages: the dialogs (kept for the reporting day and ``DATA_VERSION``), then a copy
    with the store's rollups, keyed by the store's code: a new version of the store or of the
    rollups needs them recounted, not the dialogs written again.
    """
    rows, meta, cached = rows_file(count, days, rebuild)
    stem = _stem(count, days)
    path = FOLDER / f"{stem}-{_store_code_key()}.sqlite3"
    if cached and path.exists() and path.with_suffix(".json").exists():
        return path, meta | json.loads(path.with_suffix(".json").read_text()) | {"cached": True}
    for older in FOLDER.glob(f"{stem}-*.sqlite3"):  # another store's rollups: gigabytes
        for leftover in (older, older.with_suffix(".json"), *_sidecars(older)):
            leftover.unlink(missing_ok=True)

    def copy_and_count(partial: Path) -> dict[str, Any]:
        began = time.perf_counter()
        shutil.copyfile(rows, partial)
        copy_s = time.perf_counter() - began
        return {"copy_s": copy_s, **add_rollups(partial, *meta["days"])}

    return path, meta | _fresh(path, copy_and_count) | {"cached": False}


def describe_build(name: str, path: Path, meta: dict[str, Any], count: int, days: int) -> str:
    how = "reused, built" if meta["cached"] else "built"
    return (
        f"{name}: {count:,} dialogs of {USERS:,} users over {days} reporting days, "
        f"{path.stat().st_size / 1e6:,.0f} MB (full-text index "
        f"{meta['text_index_bytes'] / 1e6:,.0f} MB), question + answer {meta['text_bytes']:,.0f} "
        f"bytes on average, at {path}\n  {how}: dialogs {meta['generate_s']:,.1f} s, "
        f"executemany of the store's upserts with its triggers {meta['insert_s']:,.1f} s; "
        f"a copy {meta['copy_s']:,.1f} s, opened by the store {meta['open_s']:,.1f} s, "
        f"store.recount {meta['recount_s']:,.1f} s ({meta['recounted']:,} counted)"
    )


def build_dynamo(table: str, count: int, days: int, threads: int = 2) -> dict[str, Any]:
    """Create ``table`` in the running moto, fill it, recount its rollups; timings."""
    from chatbot.store.create_table import create_table
    from chatbot.store.dynamodb import DynamoStore, _serialize, dynamodb_client

    client = dynamodb_client()
    started = time.perf_counter()
    create_table(client, table, index_delay=0.1)
    created = time.perf_counter()
    now = datetime.now(UTC)
    first, last = data_span(days, now)
    census = Census()
    items = []
    for dialog in make_dialogs(count, first, last):
        census.add(dialog)
        items.append(_serialize(dialog))
    generated = time.perf_counter()
    batches = [items[i : i + 25] for i in range(0, len(items), 25)]

    def write(batch: list[dict[str, Any]]) -> int:
        requests: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in batch]}
        calls = 0
        while requests:
            calls += 1
            requests = client.batch_write_item(RequestItems=requests).get("UnprocessedItems")
            if requests:
                time.sleep(0.05)
        return calls

    with ThreadPoolExecutor(threads) as pool:
        calls = sum(pool.map(write, batches))
    loaded = time.perf_counter()
    store = DynamoStore(table, patient=True, report_timezone=REPORT_TIMEZONE)
    counted = store.recount(*report_days(first, last))
    return {
        "create_s": created - started,
        "generate_s": generated - created,
        "load_s": loaded - generated,
        "recount_s": time.perf_counter() - loaded,
        "recounted": counted,
        "calls": calls,
        "threads": threads,
        **census.as_json(),
    }


# --------------------------------------------------------------------------- child: the page


def use_code_from(folder: Path) -> None:
    """Run another checkout's app code (the "before") in this process: its ``chatbot``
    package replaces the one bench.common imported, so the reads below import it inside
    their functions, after this."""
    sys.path.insert(0, str(folder))
    for name in [name for name in sys.modules if name.split(".")[0] == "chatbot"]:
        del sys.modules[name]


def env_name(backend: str) -> str:
    return "CHAT_HISTORY_DB" if backend == "sqlite" else "CHAT_HISTORY_TABLE"


def _problems(at: AppTest) -> str | None:
    if at.exception:
        return "; ".join(str(e.value)[:300] for e in at.exception)
    if at.error:
        return "; ".join(str(e.value)[:300] for e in at.error)
    return None


def _read_seconds(at: AppTest) -> float | None:
    """The store read's seconds, as the page's caption says (None when it says none)."""
    for caption in at.caption:
        if found := re.search(r"\(([\d.]+) ?(?:s|초)\)|in ([\d.]+) s at", caption.value):
            return float(found.group(1) or found.group(2))
    return None


def _has_widget(at: AppTest, key: str) -> bool:
    return any(widget.key == key for widget in at.multiselect)


class PageSteps:
    """One History sequence in one AppTest (``VIEWS``): each step's wall and CPU time, the
    peak RSS (VmHWM) after it and its growth over the step, what the page showed."""

    def __init__(
        self,
        app: Path,
        month: tuple[date, date],
        timeout: float,
        emit: bool,
        profiles: dict[str, list[cProfile.Profile]] | None = None,
    ) -> None:
        self.app, self.month, self.timeout, self.emit = app, month, timeout, emit
        self.profiles = profiles
        self.steps: dict[str, dict[str, Any]] = {}
        self.at: Any = None

    def run(self, backend: str, target: str) -> dict[str, dict[str, Any]]:
        os.environ[env_name(backend)] = target  # Settings.load reads it on every run
        self.at = at = app_test(ANALYST, self.app)  # local mode: one person, their own analyst
        at.run()
        if at.exception:
            raise RuntimeError(f"chat page failed: {[e.value for e in at.exception]}")
        if not self._step("first", "", lambda: at.switch_page(PAGE).run(timeout=self.timeout)):
            return self.steps
        models = _has_widget(at, "filter_models")  # the before page has none
        model = self._set("filter_models", [FILTER_MODEL]) if models else None
        status = self._set("filter_statuses", [FILTER_STATUS])
        both = "model+status" if models else "status"
        for name, kind, action in (
            ("model", "model", model),
            ("status", both, status),
            ("month", "", self._month),
            ("month-model", "model", model),
            ("month-status", both, status),
        ):
            if name == "month":
                self._clear_filters()
            if action is None:
                self._record(name, {"skipped": "the page has no model filter"})
            elif not self._step(name, kind, action):
                return self.steps
        self._clear_filters()
        for tab in [tab.label for tab in at.tabs][1:]:  # the first, the table's, is open
            if not self._step(TAB + tab, "", partial(self._open_tab, tab)):
                break
        return self.steps

    def _set(self, key: str, values: list[str]) -> Callable[[], Any]:
        return lambda: self.at.multiselect(key=key).set_value(values).run(timeout=self.timeout)

    def _month(self) -> Any:
        return self.at.date_input[0].set_value(self.month).run(timeout=self.timeout)

    def _clear_filters(self) -> None:
        """Every filter back to none; not timed."""
        for key in ("filter_models", "filter_statuses"):
            if _has_widget(self.at, key):
                self.at.multiselect(key=key).set_value([])
        self.at.run(timeout=self.timeout)

    def _open_tab(self, label: str) -> Any:
        # A tracked tab's state is its label: what a click sets.
        self.at.session_state[TAB_KEY] = label
        return self.at.run(timeout=self.timeout)

    def _step(self, name: str, kind: str, action: Callable[[], Any]) -> bool:
        """Time ``action``; record it (and print it with ``emit``); False if it failed."""
        gc.collect()
        base = child.reset_peak_rss()
        began, began_cpu = time.perf_counter(), time.process_time()
        profiles = None if self.profiles is None else self.profiles.setdefault(name, [])
        try:
            with nullcontext() if profiles is None else _profiled(profiles):
                action()
            problem = _problems(self.at)
        except (Exception, MemoryError) as error:  # a cap reached, a timeout: how far it got
            problem = f"{type(error).__name__}: {str(error)[:300]}"
        took, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        peak = child.status_kb("VmHWM")
        record: dict[str, Any] = {
            "s": took,
            "cpu": cpu,
            "hwm_kb": peak,
            "growth_kb": None if base is None or peak is None else peak - base,
            # What the RSS holds at the end: the heap, and the store's file mapped (mmap).
            "anon_kb": child.status_kb("RssAnon"),
            "file_kb": child.status_kb("RssFile"),
            "kind": kind,
            "error": problem,
        }
        if problem is None:
            at = self.at
            first, last = at.date_input[0].value
            record |= {
                "range": [first.isoformat(), last.isoformat()],
                # No metric: the page says the range has no such dialog.
                "dialogs": int(re.sub(r"\D", "", at.metric[0].value)) if at.metric else 0,
                "rows": len(at.dataframe[0].value) if at.dataframe and TAB not in name else None,
                "read_s": _read_seconds(at),
            }
        self._record(name, record)
        return problem is None

    def _record(self, name: str, record: dict[str, Any]) -> None:
        self.steps[name] = record
        if self.emit:
            print(STEP + json.dumps({name: record}), flush=True)


def run_page(args: argparse.Namespace) -> None:
    """Child process: a History sequence on the warm-up store, then one on the big store,
    its steps printed as they are done; profiles of the big one's steps when asked."""
    if args.cap_gb:
        cap = int(args.cap_gb * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    app = Path(args.code_dir or APP.parent) / "app.py"
    month = (date.fromisoformat(args.month[0]), date.fromisoformat(args.month[1]))
    warm = PageSteps(app, month, args.view_timeout, emit=False).run(args.scenario, args.warm_target)
    if failed := [f"{name}: {step['error']}" for name, step in warm.items() if step.get("error")]:
        print(STEP + json.dumps({"warm-up": {"error": "; ".join(failed)}}), flush=True)
        return
    print(STEP + json.dumps({"process": {"hwm_kb": child.status_kb("VmHWM")}}), flush=True)
    profiles: dict[str, list[cProfile.Profile]] | None = {} if args.profile else None
    PageSteps(app, month, args.view_timeout, emit=True, profiles=profiles).run(
        args.scenario, args.target
    )
    for name, collected in (profiles or {}).items():
        if name not in ("status", "month-status") and collected:
            title = f"{args.scenario} page, step {name}, script and test threads"
            _print_profile(title, collected, 30)


@contextmanager
def _profiled(profiles: list[cProfile.Profile]) -> Iterator[None]:
    """cProfile of this thread over the block, and of AppTest's script thread if one runs."""
    test_thread = cProfile.Profile()
    with _profiled_script_threads(profiles):
        test_thread.enable()
        try:
            yield
        finally:
            test_thread.disable()
    profiles.append(test_thread)


@contextmanager
def _profiled_script_threads(profiles: list[cProfile.Profile]) -> Iterator[None]:
    """Profile every ScriptRunner thread started inside the block (AppTest's script thread)."""
    from streamlit.runtime.scriptrunner.script_runner import ScriptRunner

    original = ScriptRunner._run_script_thread

    def wrapped(self: Any) -> None:
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()
        try:
            original(self)
        finally:
            profile.disable()

    ScriptRunner._run_script_thread = wrapped  # type: ignore[method-assign]
    try:
        yield
    finally:
        ScriptRunner._run_script_thread = original  # type: ignore[method-assign]


def _print_profile(title: str, profiles: list[cProfile.Profile], lines: int) -> None:
    stats = pstats.Stats(profiles[0], stream=io.StringIO())
    for extra in profiles[1:]:
        stats.add(extra)
    stats.strip_dirs()
    for order, what in (("cumulative", "cumulative"), ("tottime", "own time")):
        out = io.StringIO()
        stats.stream = out  # type: ignore[attr-defined]
        stats.sort_stats(order).print_stats(lines)
        text = out.getvalue()
        table = text[text.find("   ncalls") :] if "   ncalls" in text else text
        print(f"\n--- profile: {title}, by {what} ---")
        print(table.rstrip())


# --------------------------------------------------------------------------- child: data, raw


def open_store(backend: str, target: str) -> Any:
    if backend == "sqlite":
        from chatbot.store.sqlite import SqliteStore

        return SqliteStore(target, report_timezone=REPORT_TIMEZONE)
    from chatbot.store.dynamodb import DynamoStore

    return DynamoStore(target, report_timezone=REPORT_TIMEZONE)


class Reading(NamedTuple):
    """One data path: seconds per part, the dialogs the totals count, the page's rows, and
    (items, requests) of the cells' read and of the users' read."""

    seconds: dict[str, float]
    dialogs: int
    rows: int
    cells_read: tuple[int, int]
    users_read: tuple[int, int]


class DataPath:
    """The page's reads without the page, for one range: each part timed apart."""

    PARTS = ("rollup_cells", "totals", "dialog_page", "rollup_users")

    def __init__(self, backend: str, target: str, first: date, last: date) -> None:
        from chatbot.rollups import day_bounds

        self.store = open_store(backend, target)
        self.days = (first.isoformat(), last.isoformat())
        self.bounds = day_bounds(*self.days, REPORT_TIMEZONE)

    def read(self) -> Reading:
        from chatbot import analytics
        from chatbot.rollups import CellFilter
        from chatbot.store.base import DialogQuery
        from chatbot.ui.history_view import PAGE_ROWS as page_rows

        seconds: dict[str, float] = {}

        def timed(part: str, call: Callable[[], Any]) -> Any:
            began = time.perf_counter()
            value = call()
            seconds[part] = time.perf_counter() - began
            return value

        cells, cells_read = timed("rollup_cells", lambda: self.store.rollup_cells(*self.days))
        totals = timed("totals", lambda: analytics.totals(cells, CellFilter()))
        query = DialogQuery(*self.bounds, CellFilter())
        page = timed("dialog_page", lambda: self.store.dialog_page(query, page_rows))
        _, users_read = timed("rollup_users", lambda: self.store.rollup_users(*self.days))
        return Reading(
            seconds,
            totals.dialogs,
            len(page.dialogs),
            (cells_read.items, cells_read.pages),
            (users_read.items, users_read.pages),
        )


def run_data(args: argparse.Namespace) -> dict[str, Any]:
    """Child process: the data path for the default and the month range, ``repeats`` times
    each after one read of the warm-up store; peak RSS growth of each read."""
    today = report_today()
    ranges = {"week": last_days(WEEK_DAYS, today), "month": last_days(MONTH_DAYS, today)}
    DataPath(args.scenario, args.warm_target, *ranges["month"]).read()
    result: dict[str, Any] = {}
    for name, (first, last) in ranges.items():
        path = DataPath(args.scenario, args.target, first, last)
        readings: list[Reading] = []
        growth: list[float] = []
        for _ in range(args.repeats):
            gc.collect()
            base = child.reset_peak_rss()
            readings.append(path.read())
            if base is not None and (peak := child.status_kb("VmHWM")) is not None:
                growth.append(peak - base)
        last_reading = readings[-1]
        result[name] = {
            "range": [first.isoformat(), last.isoformat()],
            "parts": {part: [r.seconds[part] for r in readings] for part in DataPath.PARTS},
            "growth_kb": max(growth) if growth else None,
            "dialogs": last_reading.dialogs,
            "rows": last_reading.rows,
            "cells_read": last_reading.cells_read,
            "users_read": last_reading.users_read,
        }
        if args.profile:
            profile = cProfile.Profile()
            profile.enable()
            path.read()
            profile.disable()
            _print_profile(f"{args.scenario} data path, {name} (this thread)", [profile], 25)
    result["hwm_kb"] = child.status_kb("VmHWM")
    return result


RAW_THREADS = (1, 8)  # days queried at once: one at a time, and as the store does


def run_raw(args: argparse.Namespace) -> dict[str, Any]:
    """Child process (DynamoDB): boto3 Queries of the range's rollup cells (one per day,
    paginated, raw dicts) plus one Query page of the by-day index, ``repeats`` times, with
    the days queried one at a time and several at once."""
    import boto3

    from chatbot.store.dynamodb import _CELL_PREFIX, DAY_INDEX, ROLLUP_PREFIX
    from chatbot.ui.history_view import PAGE_ROWS as page_rows

    client = boto3.client("dynamodb")
    paginator = client.get_paginator("query")
    today = report_today()
    newest_day = datetime.now(UTC).date().isoformat()  # the index's days are UTC days

    def cells(table: str, day: date) -> list[list[dict[str, Any]]]:
        return [
            page.get("Items", [])
            for page in paginator.paginate(
                TableName=table,
                KeyConditionExpression="user_id = :p AND begins_with(request_time, :c)",
                ExpressionAttributeValues={
                    ":p": {"S": ROLLUP_PREFIX + day.isoformat()},
                    ":c": {"S": _CELL_PREFIX},
                },
            )
        ]

    def read(table: str, first: date, last: date, threads: int) -> tuple[int, int, int]:
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        with ThreadPoolExecutor(threads) as pool:
            pages = list(itertools.chain.from_iterable(pool.map(partial(cells, table), days)))
        rows = client.query(
            TableName=table,
            IndexName=DAY_INDEX,
            KeyConditionExpression="#d = :d",
            ExpressionAttributeNames={"#d": "day"},
            ExpressionAttributeValues={":d": {"S": newest_day}},
            ScanIndexForward=False,
            Limit=page_rows,
        )["Items"]
        dialogs = sum(int(item.get("dialogs", {}).get("N", 0)) for page in pages for item in page)
        return dialogs, len(rows), len(pages) + 1

    ranges = {"week": last_days(WEEK_DAYS, today), "month": last_days(MONTH_DAYS, today)}
    read(args.warm_target, *ranges["month"], max(RAW_THREADS))
    result: dict[str, Any] = {}
    for name, (first, last) in ranges.items():
        times: dict[int, list[float]] = {threads: [] for threads in RAW_THREADS}
        checks: tuple[int, int, int] = (0, 0, 0)
        for _ in range(args.repeats):
            for threads in RAW_THREADS:
                began = time.perf_counter()
                checks = read(args.target, first, last, threads)
                times[threads].append(time.perf_counter() - began)
        result[name] = {
            "range": [first.isoformat(), last.isoformat()],
            "times": times,
            "dialogs": checks[0],
            "rows": checks[1],
            "requests": checks[2],
        }
    return result


# --------------------------------------------------------------------------- parent


def child_env(tmp: Path, server: dict[str, str]) -> dict[str, str]:
    """The readers' environment: isolated, its files in ``tmp``, pointed at ``server``."""
    # The chat page builds a Bedrock client, never called: a region is all it needs.
    fixed = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "PYTHONUNBUFFERED": "1",
        "CHAT_REPORT_TIMEZONE": REPORT_TIMEZONE.key,
    }
    return bench_env(tmp, fixed, server)


@dataclass
class Watched:
    """A page child's steps, and what was seen of it from outside."""

    steps: dict[str, dict[str, Any]]
    output: list[str]
    returncode: int | None  # None: killed at the timeout
    stderr: str
    seconds: float
    seen_mb: float | None  # the highest VmHWM or VmRSS read from /proc while it ran

    def describe_end(self) -> str | None:
        """Why it ended early, if it did."""
        if self.returncode is None:
            return f"killed at the timeout after {self.seconds:,.0f} s"
        if self.returncode != 0:
            tail = " | ".join(self.stderr.strip().splitlines()[-3:])
            return f"exit {self.returncode} after {self.seconds:,.0f} s: {tail[-400:]}"
        return None


def watch_page(options: list[str], env: dict[str, str], timeout: float) -> Watched:
    """``python -m bench.history OPTIONS`` (a page child) to its end or ``timeout``; its
    memory read from /proc five times a second, so a child the cap or the kernel ends still
    leaves a figure."""
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.history", *options],
        cwd=APP.parent,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out: list[str] = []
    err: list[str] = []
    with ThreadPoolExecutor(2) as readers:  # both pipes drained: a full one would block it
        for stream, into in ((process.stdout, out), (process.stderr, err)):
            readers.submit(into.extend, stream)  # type: ignore[arg-type]
        began = time.perf_counter()
        seen: float | None = None
        killed = False
        while process.poll() is None:
            if time.perf_counter() - began > timeout:
                process.kill()
                killed = True
                break
            for field in ("VmHWM", "VmRSS"):
                if (mb := proc_status_mb(process.pid, field)) is not None:
                    seen = max(seen or 0.0, mb)
            time.sleep(0.2)
        process.wait()
    steps: dict[str, dict[str, Any]] = {}
    output = []
    for line in out:
        if line.startswith(STEP):
            steps |= json.loads(line[len(STEP) :])
        else:
            output.append(line.rstrip("\n"))
    return Watched(
        steps,
        output,
        None if killed else process.returncode,
        "".join(err),
        time.perf_counter() - began,
        seen,
    )


def page_children(
    args: argparse.Namespace,
    backend: str,
    targets: tuple[str, str],
    env: dict[str, str],
    *,
    before: bool = False,
    repeats: int = 1,
    profile: bool = False,
) -> list[Watched]:
    """``repeats`` page children on ``targets`` (big, warm-up), each cold; the before
    code's with its cap; the profile's output printed."""
    today = report_today() if not before else datetime.now(UTC).date()
    # The before page's days are the viewer's (UTC in AppTest): one more day holds the
    # first reporting day's dialogs, which began at its midnight in Seoul.
    first, last = last_days(MONTH_DAYS + before, today)
    options = [
        "--scenario", backend, "--part", "page", "--target", targets[0],
        "--warm-target", targets[1], "--month", first.isoformat(), last.isoformat(),
        "--view-timeout", str(args.view_timeout),
    ]  # fmt: skip
    if before:
        options += ["--code-dir", str(args.before_dir), "--cap-gb", str(args.before_cap_gb)]
    if profile:
        options.append("--profile")
    runs = []
    for _ in range(repeats):
        done = watch_page(options, env, args.child_timeout)
        if profile:
            print("\n".join(done.output))
        if ended := done.describe_end():
            print(f"NOTE: {backend} page{' (before)' if before else ''} child: {ended}")
        runs.append(done)
    return runs


def _data_repeats(args: argparse.Namespace, backend: str) -> int:
    return args.dynamo_repeats if backend == "dynamo" else args.data_repeats


def data_child(
    args: argparse.Namespace, backend: str, part: str, targets: tuple[str, str], env: dict[str, str]
) -> dict[str, Any] | None:
    options = [
        "--scenario", backend, "--part", part, "--target", targets[0],
        "--warm-target", targets[1], "--repeats", str(_data_repeats(args, backend)),
    ]  # fmt: skip
    if args.profile and part == "data":
        options.append("--profile")
    done = child.run("bench.history", options, env, timeout=args.child_timeout)
    if args.profile:
        print("\n".join(done.output))
    if done.result is None:
        print(f"WARNING: {backend} {part} failed (exit {done.returncode}):")
        print("\n".join(done.stderr.strip().splitlines()[-15:]))
    return done.result


def sqlite_part(
    args: argparse.Namespace, tmp: Path, name: str, rows: int, days: int
) -> dict[str, Any] | None:
    path, meta = sqlite_file(rows, days, args.rebuild)
    warm, _ = sqlite_file(WARM_ROWS, MONTH_DAYS, False)
    print(describe_build(name, path, meta, rows, days))
    if args.build_only:
        return None
    env = child_env(tmp, {})
    targets = (str(path), str(warm))
    result: dict[str, Any] = {"meta": meta, "rows": rows}
    result["after"] = page_children(args, "sqlite", targets, env, repeats=args.page_repeats)
    result["data"] = data_child(args, "sqlite", "data", targets, env)
    if args.before_dir:
        result["before"] = page_children(args, "sqlite", targets, env, before=True)
    if args.profile:
        page_children(args, "sqlite", targets, env, profile=True)
    return result


@contextmanager
def moto_items_kept() -> Iterator[None]:
    """moto (5.2) answers every Query and Scan from ``Table.all_items()``, which sorts the
    whole table each time: at 100,000 dialogs and their rollups, about 3 s a request
    whatever it returns, and a page's eight concurrent Queries then outlast the store's
    20 s read timeout. Here the sorted list is kept until the table's next write, so a
    request costs about a pass over the table, not a sort of it; moto answers the same."""
    from moto.dynamodb.models.table import Table

    all_items, put_item, delete_item = Table.all_items, Table.put_item, Table.delete_item
    kept: dict[int, tuple[int, list[Any]]] = {}
    versions: Counter[int] = Counter()
    lock = threading.Lock()

    def kept_items(self: Table) -> list[Any]:
        version = versions[id(self)]
        if (hit := kept.get(id(self))) and hit[0] == version:
            return list(hit[1])
        items = all_items(self)
        with lock:
            if versions[id(self)] == version:  # no write began meanwhile
                kept[id(self)] = (version, items)
        return list(items)

    def written(original: Callable[..., Any]) -> Callable[..., Any]:
        def write(self: Table, *args: Any, **kwargs: Any) -> Any:
            with lock:  # before and after: a list made meanwhile is never kept as current
                versions[id(self)] += 1
            try:
                return original(self, *args, **kwargs)
            finally:
                with lock:
                    versions[id(self)] += 1

        return write

    Table.all_items = kept_items  # type: ignore[method-assign]
    Table.put_item = written(put_item)  # type: ignore[method-assign]
    Table.delete_item = written(delete_item)  # type: ignore[method-assign]
    try:
        yield
    finally:
        Table.all_items = all_items  # type: ignore[method-assign]
        Table.put_item = put_item  # type: ignore[method-assign]
        Table.delete_item = delete_item  # type: ignore[method-assign]


def dynamo_part(args: argparse.Namespace, tmp: Path) -> dict[str, Any] | None:
    from loopback.dynamodb import MotoDynamo

    table = f"{TABLE_PREFIX}-{uuid.uuid4().hex[:8]}"
    with (
        nullcontext() if args.plain_moto else moto_items_kept(),
        MotoDynamo() as moto,
        environ_as(env := child_env(tmp, moto.env())),
    ):
        built = build_dynamo(table, args.dynamo_rows, MONTH_DAYS)
        build_dynamo(f"{table}-warm", WARM_ROWS, MONTH_DAYS)
        kept = "as it is" if args.plain_moto else "keeping its sorted items between writes"
        print(
            f"DynamoDB: {args.dynamo_rows:,} dialogs over {MONTH_DAYS} reporting days in moto's "
            f"server {moto.url} (this process, {kept}); table + indexes "
            f"{built['create_s']:.1f} s, "
            f"items {built['generate_s']:.1f} s, {built['calls']:,} batch_write_item calls on "
            f"{built['threads']} threads {built['load_s']:,.0f} s (not through put: a "
            f"TransactWriteItems each), store.recount {built['recount_s']:,.0f} s "
            f"({built['recounted']:,} counted)"
        )
        if args.build_only:
            return None
        targets = (table, f"{table}-warm")
        result: dict[str, Any] = {"meta": built, "rows": args.dynamo_rows}
        result["raw"] = data_child(args, "dynamo", "raw", targets, env)
        result["data"] = data_child(args, "dynamo", "data", targets, env)
        result["after"] = page_children(
            args, "dynamo", targets, env, repeats=args.dynamo_page_repeats
        )
        if args.before_dir:
            result["before"] = page_children(args, "dynamo", targets, env, before=True)
        if args.profile:
            page_children(args, "dynamo", targets, env, profile=True)
        return result


# --------------------------------------------------------------------------- the report


def _seconds(values: list[float]) -> str:
    if not values:
        return f"{'-':>7}{'-':>7}"
    return f"{statistics.median(values):>7.3f}{min(values):>7.3f}"


def _runs_peak_kb(runs: list[Watched]) -> float | None:
    """The highest VmHWM of these processes: after imports and the warm-up, and per step."""
    peaks = [step["hwm_kb"] for run in runs for step in run.steps.values() if step.get("hwm_kb")]
    return max(peaks) if peaks else None


def _step_names(runs: list[Watched]) -> list[str]:
    """``VIEWS``, then the tabs the runs opened, in their order."""
    tabs = [name for run in runs for name in run.steps if name.startswith(TAB)]
    return [*VIEWS, *dict.fromkeys(tabs)]


def page_table(title: str, runs: list[Watched], meta: dict[str, Any], zone: str) -> None:
    print(f"{title} ({len(runs)} process{'es' * (len(runs) > 1)}, each cold)")
    for run in runs:
        if "warm-up" in run.steps:
            print(f"  warm-up failed: {run.steps['warm-up']['error']}")
    for view in _step_names(runs):
        steps = [run.steps[view] for run in runs if view in run.steps]
        done = [step for step in steps if "s" in step and not step.get("error")]
        failed = [step for step in steps if step.get("error")]
        label = f"  {VIEW_LABELS.get(view, view):<34}"
        if steps and "skipped" in steps[0]:
            print(f"{label}{'n/a':>7}  ({steps[0]['skipped']})")
            continue
        if failed:
            step = failed[0]
            print(
                f"{label}{'failed':>7}  in {len(failed)} of {len(runs)}: after {step['s']:,.1f} s, "
                f"peak {_mb(step['hwm_kb'])} MB (heap {_mb(step['anon_kb'])}, file-backed "
                f"{_mb(step['file_kb'])} at the end): {step['error']}"
            )
        if not done:
            if not failed:
                seen = max((run.seen_mb or 0 for run in runs), default=0)
                ends = "; ".join(filter(None, (run.describe_end() for run in runs)))
                print(f"{label}{'-':>7}  not reached ({ends or 'skipped'}); {seen:,.0f} MB seen")
            continue
        last = done[-1]
        first, end = last["range"]
        want = expected(meta, zone, first, end, last["kind"])
        flag = "" if last["dialogs"] == want else f" ! {want:,}"
        read = [step["read_s"] for step in done if step.get("read_s") is not None]
        read_s = f"{statistics.median(read):.3f}" if read and view in ("first", "month") else "-"
        growth = [step["growth_kb"] for step in done if step.get("growth_kb") is not None]
        rows = "-" if last["rows"] is None else last["rows"]
        print(
            f"{label}{_seconds([step['s'] for step in done])}"
            f"{statistics.median(step['cpu'] for step in done):>7.3f}"
            f"{last['dialogs']:>11,}{flag:<3}{rows:>5}{read_s:>7}"
            f"{_mb(max(step['hwm_kb'] for step in done)):>7}"
            f"{_mb(statistics.median(growth) if growth else None):>7}"
        )
    steps = [step for run in runs for step in run.steps.values() if step.get("hwm_kb")]
    if steps:
        top = max(steps, key=lambda step: step["hwm_kb"])
        process = [run.steps["process"]["hwm_kb"] for run in runs if "process" in run.steps]
        print(
            f"  peak RSS of the process: {_mb(top['hwm_kb'])} MB (after imports and the warm-up: "
            f"{_mb(max(process) if process else None)} MB; at the end of its step, heap "
            f"{_mb(top.get('anon_kb'))} MB + file-backed {_mb(top.get('file_kb'))} MB: libraries, "
            "and the store's file as SQLite maps it)"
        )


def page_header() -> None:
    print(
        f"{'(s; MB)':<36}{'median':>7}{'min':>7}{'cpu':>7}{'dialogs':>11}{'':3}{'rows':>5}"
        f"{'read':>7}{'peak':>7}{'HWM+':>7}"
    )


def data_table(result: dict[str, Any] | None, repeats: int) -> None:
    if result is None:
        print("data path: failed")
        return
    week, month = result["week"], result["month"]
    title = f"data path, the store alone: median s of {repeats} reads"
    print(f"{title:<46}{'week':>10}{'month':>10}")
    labels = {
        "rollup_cells": "store.rollup_cells",
        "totals": "analytics.totals, no filter",
        "dialog_page": f"store.dialog_page, {week['rows']} rows",
        "rollup_users": "store.rollup_users (Users tab)",
    }
    for part, label in labels.items():
        print(
            f"  {label:<44}{statistics.median(week['parts'][part]):>10.3f}"
            f"{statistics.median(month['parts'][part]):>10.3f}"
        )
    first = [
        sum(
            statistics.median(r["parts"][part])
            for part in ("rollup_cells", "totals", "dialog_page")
        )
        for r in (week, month)
    ]
    print(f"  {'first view: cells + totals + page':<44}{first[0]:>10.3f}{first[1]:>10.3f}")
    print(f"  {'dialogs counted':<44}{week['dialogs']:>10,}{month['dialogs']:>10,}")
    for what, label in (("cells_read", "cells"), ("users_read", "users")):
        reads = [f"{r[what][0]:,}/{r[what][1]:,}" for r in (week, month)]
        print(f"  {f'{label}: items/requests read':<44}{reads[0]:>10}{reads[1]:>10}")
    print(
        f"  {'peak RSS growth of a read, MB':<44}{_mb(week['growth_kb']):>10}"
        f"{_mb(month['growth_kb']):>10}"
    )


def report_sqlite(name: str, result: dict[str, Any], args: argparse.Namespace) -> None:
    print()
    print(f"{name}: {result['rows']:,} dialogs")
    page_header()
    page_table("after: the page", result["after"], result["meta"], "report")
    if "before" in result:
        page_table(f"before ({args.before_dir}): the page", result["before"], result["meta"], "utc")
    data_table(result["data"], args.data_repeats)


def report_dynamo(result: dict[str, Any], args: argparse.Namespace) -> None:
    print()
    print(f"DynamoDB (moto server): {result['rows']:,} dialogs")
    if raw := result["raw"]:
        week, month = raw["week"], raw["month"]
        print(
            f"raw: boto3 Queries of the range's cells, a day each, + 1 Query page of by_day "
            f"({week['rows']} rows){'week':>7}{'month':>9}   (median s)"
        )
        for threads in RAW_THREADS:
            label = "one day at a time" if threads == 1 else f"{threads} days at once, as the store"
            print(
                f"  {label:<84}{statistics.median(week['times'][str(threads)]):>7.3f}"
                f"{statistics.median(month['times'][str(threads)]):>9.3f}"
            )
        print(
            f"  {'requests':<84}{week['requests']:>7}{month['requests']:>9}\n"
            f"  {'dialogs counted in the cells':<84}{week['dialogs']:>7,}{month['dialogs']:>9,}"
        )
    page_header()
    page_table("after: the page", result["after"], result["meta"], "report")
    if "before" in result:
        page_table(f"before ({args.before_dir}): the page", result["before"], result["meta"], "utc")
    data_table(result["data"], _data_repeats(args, "dynamo"))


def _median_step(runs: list[Watched], view: str) -> float | None:
    times = [
        run.steps[view]["s"]
        for run in runs
        if view in run.steps and "s" in run.steps[view] and not run.steps[view].get("error")
    ]
    return statistics.median(times) if times else None


def goal_lines(results: dict[str, Any]) -> None:
    for name in ("sqlite", "baseline"):
        if not (result := results.get(name)):
            continue
        runs, rows = result["after"], result["rows"]
        what = f"SQLite {rows:,} dialogs"
        for view, label in (("first", "first view"), ("month", f"{MONTH_DAYS}-day range")):
            took = _median_step(runs, view)
            measured = f"{what}, {label}: " + ("failed" if took is None else f"{took:.2f} s")
            goal = f"<= {FIRST_VIEW_GOAL_S:g} s"
            print(goal_line(measured, goal, took is not None and took <= FIRST_VIEW_GOAL_S))
        for view in FILTER_VIEWS:
            took = _median_step(runs, view)
            label = (
                f"{'month ' if view.startswith('month') else 'default range '}{view.split('-')[-1]}"
            )
            measured = f"{what}, filter change ({label}): " + (
                "failed" if took is None else f"{took:.3f} s"
            )
            print(
                goal_line(
                    measured, f"<= {FILTER_GOAL_S:g} s", took is not None and took <= FILTER_GOAL_S
                )
            )
        peak = _runs_peak_kb(runs)
        measured = f"{what}, peak RSS of the page's process: {_mb(peak)} MB"
        met = peak is not None and peak / 1024 < PEAK_GOAL_MB
        print(goal_line(measured, f"< {PEAK_GOAL_MB} MB", met))
    if (result := results.get("dynamo")) and result["raw"]:
        for view, what in (("first", "week"), ("month", "month")):
            took = _median_step(result["after"], view)
            # The faster of the raw reads: the stricter goal.
            base = min(map(statistics.median, result["raw"][what]["times"].values()))
            if took is None:
                print(f"DynamoDB {what}: page not measured (failed): MISS")
                continue
            ratio = took / base
            measured = (
                f"DynamoDB {result['rows']:,} dialogs, {VIEW_LABELS[view].strip()}: {took:.2f} s"
                f" = {ratio:.2f} x raw ({base:.3f} s)"
            )
            print(goal_line(measured, f"<= {DYNAMO_GOAL_RATIO:g} x", ratio <= DYNAMO_GOAL_RATIO))


def print_legend(args: argparse.Namespace) -> None:
    print(
        f"""
median, min: wall seconds of the step's AppTest run (switch_page, or the rerun a widget
  makes); cpu: its CPU seconds in the page's process (moto's are this process's)
dialogs: the dialogs the page counts (! then what was generated, when not equal); rows: the
  table's rows; read: the store read's seconds, per the page's caption, for a cold range
peak: the process's VmHWM after the step (reset to its RSS just before it), the highest of
  the processes; file-backed pages count (libraries, SQLite's mmap of the store); HWM+: its
  growth over the step, median; "tab X": that tab opened on the {MONTH_DAYS}-day range
before: the page of {args.before_dir or "--before-dir"}, reading the range into pandas, under
  RLIMIT_AS {args.before_cap_gb:g} GB; its days are the viewer's (UTC in AppTest), so its
  long range is {MONTH_DAYS + 1} days, holding the same dialogs; it has no model filter
"""
    )


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-rows", type=int, default=1_000_000, help="dialogs in SQLite")
    parser.add_argument(
        "--baseline-rows", type=int, default=100_000, help="dialogs in the 7-day SQLite file"
    )
    parser.add_argument("--dynamo-rows", type=int, default=100_000, help="dialogs in DynamoDB")
    parser.add_argument("--page-repeats", type=int, default=3, help="after page processes")
    parser.add_argument(
        "--dynamo-page-repeats", type=int, default=2, help="after page processes, DynamoDB"
    )
    parser.add_argument("--data-repeats", type=int, default=5, help="SQLite data path reads")
    parser.add_argument(
        "--dynamo-repeats", type=int, default=2, help="DynamoDB raw and data path reads"
    )
    parser.add_argument("--before-dir", type=Path, help="a checkout of the code before")
    parser.add_argument(
        "--before-cap-gb", type=float, default=12, help="the before page's address space"
    )
    parser.add_argument(
        "--view-timeout", type=float, default=1200, help="seconds one page run may take"
    )
    parser.add_argument(
        "--child-timeout", type=float, default=3600, help="seconds one child process may take"
    )
    parser.add_argument(
        "--only", choices=("sqlite", "baseline", "dynamo"), action="append", help="run these"
    )
    parser.add_argument(
        "--plain-moto", action="store_true", help="moto as it is: it sorts the table per Query"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached SQLite files")
    parser.add_argument("--build-only", action="store_true", help="build the stores, no reads")
    parser.add_argument("--profile", action="store_true", help="cProfile the page and data path")
    parser.add_argument("--scenario", choices=("sqlite", "dynamo"), help=argparse.SUPPRESS)
    parser.add_argument("--part", choices=("page", "data", "raw"), help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--warm-target", help=argparse.SUPPRESS)
    parser.add_argument("--month", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--code-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cap-gb", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.before_dir and not (args.before_dir / "app.py").exists():
        parser.error(f"--before-dir {args.before_dir}: no app.py there")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scenario:  # a child: one kind of read of one store, in its own process
        if args.code_dir:
            use_code_from(args.code_dir)
        if args.part == "page":
            run_page(args)
        else:
            child.report((run_data if args.part == "data" else run_raw)(args))
        return 0

    print(
        "command: python -m bench.history " + shlex.join(argv if argv is not None else sys.argv[1:])
    )
    print(
        versions_line("streamlit", "pandas", "pyarrow", "boto3", "botocore", "moto"),
        f" sqlite {sqlite3.sqlite_version}",
    )
    today = report_today()
    print(
        f"reporting time zone {REPORT_TIMEZONE.key}, today {today}; the page's default range "
        f"{last_days(WEEK_DAYS, today)[0]} .. {today}, the long one "
        f"{last_days(MONTH_DAYS, today)[0]} .. {today}"
    )
    started = time.perf_counter()
    parts = args.only or ["sqlite", "baseline", "dynamo"]
    results: dict[str, Any] = {}
    with scratch("history") as tmp:
        if "sqlite" in parts:
            results["sqlite"] = sqlite_part(args, tmp, "SQLite", args.sqlite_rows, MONTH_DAYS)
        if "baseline" in parts:
            results["baseline"] = sqlite_part(
                args, tmp, "SQLite baseline", args.baseline_rows, WEEK_DAYS
            )
        if "dynamo" in parts:
            results["dynamo"] = dynamo_part(args, tmp)
    results = {name: result for name, result in results.items() if result}
    for name, title in (("sqlite", "SQLite"), ("baseline", "SQLite baseline")):
        if name in results:
            report_sqlite(title, results[name], args)
    if "dynamo" in results:
        report_dynamo(results["dynamo"], args)
    if results:
        print_legend(args)
        goal_lines(results)
    print(total_run_line(started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
