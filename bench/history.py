"""Load time and memory of the analysts' History page over a large store, next to a raw read.

Two stores, each read three ways for the page's default range (the last 7 days, UTC):

- SQLite, ``--sqlite-rows`` dialogs (default 100,000) of 500 users over the last 6 days,
  written in time order with one ``executemany`` of the store's own upsert. The file is kept
  in the temp dir, keyed by row count and UTC date, and reused (``--rebuild`` to redo).
- DynamoDB, ``--dynamo-rows`` dialogs (default 10,000) in moto's server (``loopback``), the
  table made by ``create_table`` and filled with ``batch_write_item`` of the store's items.

The reads:

- raw: SQLite ``SELECT ... WHERE day BETWEEN ? AND ?`` + ``fetchall`` (also with the store's
  ``ORDER BY request_time``, and in index order); DynamoDB one paginated boto3 Query per day
  on the ``by_day`` index, items kept as raw dicts.
- data path: ``store.browse(...)`` then ``analytics.dialogs_frame``.
- page load: ``AppTest.from_file("app.py")`` with a local-mode user, ``run()`` (the chat
  page), then the timed ``switch_page("pages/history.py").run()``; a fresh AppTest each time.

Each kind of read runs in a process of its own (``--scenario``, re-invoking this module),
which warms up on a 200-dialog store of the same shape and then times ``--repeats`` reads
(``--dynamo-repeats`` for DynamoDB: moto's Query costs about a second a page at 10,000
items). Memory: ``ru_maxrss`` growth over the first timed read (the first large one of the
process), the peak-RSS growth of each read (VmHWM, reset through ``/proc/self/clear_refs``),
and the ``tracemalloc`` peak of one more read. moto runs in this parent process, so neither
its time on the CPU nor its memory counts against a reader's.

    python -m bench.history [--sqlite-rows 100000] [--dynamo-rows 10000] [--repeats 5]
                            [--dynamo-repeats 2] [--rebuild] [--only sqlite|dynamo] [--profile]

``--profile`` adds a cProfile of one more data path and page load (the page's script thread
and the test thread apart). A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import random
import re
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import child
from bench.common import (
    app_test,
    bench_env,
    environ_as,
    goal_line,
    scratch,
    total_run_line,
    versions_line,
)
from chatbot.config import MODEL_CHOICES
from chatbot.modes import MODES, SUMMARY
from chatbot.store.base import FIELDS, Dialog, Status, format_request_time, key_bound

PAGE = "pages/history.py"
ANALYST = "bench-analyst"  # the local-mode user id the AppTest types; owns no dialogs
TABLE_PREFIX = "bench-history"
USERS = 500
SPAN = timedelta(days=6)
SEED = 20251125
DATA_VERSION = 2  # bump when the rows or the schema change, to invalidate cached files
WARM_ROWS = 200  # the small store each process warms up on
KINDS = ("raw", "raw-sorted", "raw-index-order", "data", "page")

SQLITE_GOAL_S = 1.5
DYNAMO_GOAL_RATIO = 1.25

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


# --------------------------------------------------------------------------- utilities


def page_range(now: datetime | None = None) -> tuple[datetime, datetime]:
    """The page's default range in UTC: midnight six days ago to midnight tomorrow."""
    today = (now or datetime.now(UTC)).astimezone(UTC).date()
    start = datetime.combine(today - timedelta(days=6), datetime.min.time(), UTC)
    return start, datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)


def range_days(since: datetime, until: datetime) -> list[str]:
    """The UTC days of ``[since, until)``, as DynamoStore.browse queries them."""
    first = since.date()
    last = (until - timedelta(microseconds=1)).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def _mb(kib: float | None) -> str:
    return "-" if kib is None else f"{kib / 1024:.0f}"


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
    """Korean, English and mixed text of any length: slices of seeded random corpora."""

    def __init__(self, rng: random.Random) -> None:
        ko = _corpus(rng, _KO_WORDS, 200_000)
        en = _corpus(rng, _EN_WORDS, 200_000)
        mixed = "".join(f"{a}{b}" for a, b in zip(ko.split(". "), en.split(". "), strict=False))
        self.corpora = (ko, ko, ko, en, en, mixed)  # Korean first, as the app's users are
        self.rng = rng

    def text(self, low: int, high: int) -> str:
        corpus = self.rng.choice(self.corpora)
        length = self.rng.randint(low, high)
        start = self.rng.randrange(len(corpus) - length)
        return corpus[start : start + length].strip() or "?"


def make_dialogs(count: int, now: datetime, seed: int = SEED) -> Iterator[Dialog]:
    """``count`` dialogs of ``USERS`` users over ``SPAN`` before ``now``, in time order."""
    rng = random.Random(seed)
    texts = TextSource(rng)
    users = [f"user-{n:03d}" if n % 5 else f"사용자-{n:03d}" for n in range(USERS)]
    modes = [*MODES]
    statuses = [Status.COMPLETE] * 90 + [Status.INCOMPLETE] * 4
    statuses += [Status.ERROR] * 3 + [Status.STOPPED] * 3
    sessions = {user: uuid.UUID(int=rng.getrandbits(128), version=4).hex for user in users}
    first = now - SPAN
    span_ms = int(SPAN.total_seconds() * 1000) - 60_000
    offsets = sorted(rng.randrange(span_ms) for _ in range(count))
    for offset in offsets:
        at = first + timedelta(milliseconds=offset)
        user = rng.choice(users)
        if rng.random() < 0.02:
            sessions[user] = uuid.UUID(int=rng.getrandbits(128), version=4).hex
        request_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        status = rng.choice(statuses)
        document = rng.random() < 0.05
        answer = "" if status == Status.ERROR else texts.text(300, 1500)
        if status in (Status.INCOMPLETE, Status.STOPPED):
            answer = answer[: rng.randint(20, len(answer))]
        finished = status != Status.ERROR
        ttft = rng.randint(250, 2500) if finished else None
        yield Dialog(
            user_id=user,
            request_time=format_request_time(at, request_id),
            request_id=request_id,
            type="document" if document else "text",
            body=texts.text(40, 200) if not document else f"report-{rng.randint(1, 999)}.pdf",
            msg=answer,
            mode=SUMMARY.id if document else rng.choice(modes),
            model_id=rng.choice(MODEL_CHOICES),
            input_tokens=rng.randint(30, 4000) if finished else None,
            output_tokens=rng.randint(50, 1200) if finished else None,
            ttft_ms=ttft,
            latency_ms=(ttft or 0) + rng.randint(500, 20000) if finished else None,
            status=status.value,
            feedback=rng.choice((None,) * 8 + ("up", "down")),
            session_id=sessions[user],
        )


def build_sqlite(path: Path, count: int, now: datetime) -> tuple[float, float]:
    """The store's file at ``path``: (seconds to generate rows, seconds to insert them)."""
    from chatbot.store.sqlite import _UPSERT, SqliteStore

    started = time.perf_counter()
    rows = [[*d, d.day] for d in make_dialogs(count, now)]
    generated = time.perf_counter()
    SqliteStore(path)  # the schema, the store's own way (WAL)
    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous=NORMAL")
    with db:
        db.executemany(_UPSERT, rows)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    return generated - started, time.perf_counter() - generated


def sqlite_file(count: int, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    """The cached file for ``count`` rows of today's range, built if missing."""
    now = datetime.now(UTC)
    folder = Path(tempfile.gettempdir()) / "bench-history"
    folder.mkdir(exist_ok=True)
    path = folder / f"dialogs-{count}-{now:%Y%m%d}-v{DATA_VERSION}.sqlite3"
    meta_path = path.with_suffix(".json")
    if path.exists() and meta_path.exists() and not rebuild:
        meta = json.loads(meta_path.read_text())
        meta["cached"] = True
        return path, meta
    partial = path.with_name(f"{path.stem}.{os.getpid()}.partial")
    for stale in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        stale.unlink(missing_ok=True)
    generate_s, insert_s = build_sqlite(partial, count, now)
    for leftover in (Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    os.replace(partial, path)
    meta = {"generate_s": generate_s, "insert_s": insert_s, "built_at": now.isoformat()}
    meta_path.write_text(json.dumps(meta))
    meta["cached"] = False
    return path, meta


def build_dynamo(table: str, count: int, threads: int = 2) -> dict[str, Any]:
    """Create ``table`` in the running moto and fill it; timings and request counts."""
    from chatbot.store.create_table import create_table
    from chatbot.store.dynamodb import _serialize, dynamodb_client

    client = dynamodb_client()
    started = time.perf_counter()
    create_table(client, table, index_delay=0.1)
    created = time.perf_counter()
    items = [_serialize(d) for d in make_dialogs(count, datetime.now(UTC))]
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
    return {
        "create_s": created - started,
        "generate_s": generated - created,
        "load_s": time.perf_counter() - generated,
        "calls": calls,
        "threads": threads,
    }


# --------------------------------------------------------------------------- child: reads


class Reads:
    """The reads of one store, for the page's default range; each returns (items, pages)."""

    def __init__(self, backend: str, target: str) -> None:
        self.backend, self.target = backend, target
        self.since, self.until = page_range()
        self._store: Any = None
        self._client: Any = None
        self.split: dict[str, list[float]] = {}  # named parts of the timed reads
        self.last: Any = None  # the AppTest of the last page load

    def read(self, kind: str) -> tuple[int, int]:
        return {
            "raw": self.raw,
            "raw-sorted": lambda: self._raw_sqlite("ORDER BY request_time"),
            "raw-index-order": lambda: self._raw_sqlite("ORDER BY day, request_time"),
            "data": self.data,
            "page": self.page,
        }[kind]()

    def raw(self) -> tuple[int, int]:
        return self._raw_sqlite("") if self.backend == "sqlite" else self._raw_dynamo()

    def _raw_sqlite(self, order: str) -> tuple[int, int]:
        sql = f"SELECT {', '.join(FIELDS)} FROM dialogs WHERE day BETWEEN ? AND ? {order}"
        db = sqlite3.connect(self.target)  # a connection per read, as each script thread has
        try:
            rows = db.execute(sql, (key_bound(self.since), key_bound(self.until))).fetchall()
        finally:
            db.close()
        return len(rows), 1

    def _raw_dynamo(self) -> tuple[int, int]:
        import boto3

        if self._client is None:
            self._client = boto3.client("dynamodb")
        paginator = self._client.get_paginator("query")
        items: list[dict[str, Any]] = []
        pages = 0
        for day in range_days(self.since, self.until):
            for page in paginator.paginate(
                TableName=self.target,
                IndexName="by_day",
                KeyConditionExpression="#d = :d",
                ExpressionAttributeNames={"#d": "day"},
                ExpressionAttributeValues={":d": {"S": day}},
            ):
                pages += 1
                items.extend(page.get("Items", []))
        return len(items), pages

    def store(self) -> Any:
        if self._store is None:
            if self.backend == "sqlite":
                from chatbot.store.sqlite import SqliteStore

                self._store = SqliteStore(self.target)
            else:
                from chatbot.store.dynamodb import DynamoStore

                self._store = DynamoStore(self.target)
        return self._store

    def data(self) -> tuple[int, int]:
        """``store.browse`` + ``dialogs_frame``; the page's no-op ``apply_filters`` apart."""
        from chatbot import analytics

        began = time.perf_counter()
        dialogs, stats = self.store().browse(self.since, self.until)
        browsed = time.perf_counter()
        frame = analytics.dialogs_frame(dialogs)
        framed = time.perf_counter()
        self.split.setdefault("browse", []).append(browsed - began)
        self.split.setdefault("frame", []).append(framed - browsed)
        analytics.apply_filters(frame, analytics.Filters())
        self.split.setdefault("filter", []).append(time.perf_counter() - framed)
        return len(frame), stats.pages

    def page(
        self, around: Callable[[], AbstractContextManager[Any]] = nullcontext
    ) -> tuple[int, int]:
        """One History load on a fresh AppTest; only ``switch_page(...).run()`` is timed.

        ``around`` wraps that call alone (tracemalloc, cProfile), not the chat page before it.
        """
        from chatbot.ui import resources

        os.environ[self.env_name] = self.target  # Settings.load reads it on every run
        resources.browsed.clear()  # a cold load: the page keeps a read for a minute
        at = app_test(ANALYST)  # local mode: one person, their own analyst
        at.run()
        if at.exception:
            raise RuntimeError(f"chat page failed: {[e.value for e in at.exception]}")
        gc.collect()
        with around():
            began, began_cpu = time.perf_counter(), time.process_time()
            at.switch_page(PAGE).run()
            took, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        if at.exception:
            raise RuntimeError(f"History page failed: {[e.value for e in at.exception]}")
        if at.error:
            raise RuntimeError(f"History page error: {[e.value for e in at.error]}")
        if not at.metric:
            raise RuntimeError(f"History page shows no metrics: {at.main}")
        self.split.setdefault("page", []).append(took)
        self.split.setdefault("page_cpu", []).append(cpu)
        began = time.perf_counter()
        at.run()  # the analyst's next click: a rerun served by the page's cached read
        self.split.setdefault("rerun", []).append(time.perf_counter() - began)
        for caption in at.caption:
            if found := re.search(r"\(([\d.]+) ?(?:s|초)\)", caption.value):
                self.split.setdefault("in_page_read", []).append(float(found.group(1)))
                break
        self.last = at
        return int(at.metric[0].value.replace(",", "")), len(at.dataframe[0].value)

    @property
    def env_name(self) -> str:
        return "CHAT_HISTORY_DB" if self.backend == "sqlite" else "CHAT_HISTORY_TABLE"


@contextmanager
def _traced(peak: list[int]) -> Iterator[None]:
    """tracemalloc over the block; its peak appended to ``peak``."""
    tracemalloc.start()
    try:
        yield
    finally:
        peak.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()


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


def run_scenario(args: argparse.Namespace) -> dict[str, Any]:
    """Child process: warm up on the small store, then time ``repeats`` reads of the big one;
    a tracemalloc peak over one more read when asked, and profiles."""
    kind = args.part
    warm = Reads(args.scenario, args.warm_target)
    reads = Reads(args.scenario, args.target)
    if kind == "page":
        warm.page()  # also imports and runs the chat page once
    else:
        warm.read(kind)
    result = timed_reads(reads, kind, args.repeats)
    result["py_peak_kb"] = python_peak_kb(reads, kind) if args.trace else None
    if args.profile:
        print_profiles(reads, kind, args.scenario)
    return result


def timed_reads(reads: Reads, kind: str, repeats: int) -> dict[str, Any]:
    """Times and memory of ``repeats`` reads.

    The first timed read is the first large one of this process: its ``ru_maxrss`` growth is
    the peak RSS growth of the read. Then VmHWM (reset before each) for every read.
    """
    times: list[float] = []
    cpu: list[float] = []
    hwm: list[float] = []
    first_maxrss = None
    checks: tuple[int, int] | None = None
    for _ in range(repeats):
        gc.collect()
        before = _maxrss_kb()
        base = child.reset_peak_rss()
        wall, started_cpu = time.perf_counter(), time.process_time()
        checks = reads.read(kind)
        if kind == "page":  # the switch to History alone, not the chat page before it
            times.append(reads.split["page"][-1])
            cpu.append(reads.split["page_cpu"][-1])
        else:
            times.append(time.perf_counter() - wall)
            cpu.append(time.process_time() - started_cpu)
        peak = child.status_kb("VmHWM")
        if first_maxrss is None:
            first_maxrss = _maxrss_kb() - before
        if base is not None and peak is not None:
            hwm.append(peak - base)
        reads.last = None
    return {
        "times": times,
        "cpu": statistics.median(cpu),
        "split": {name: statistics.median(values) for name, values in reads.split.items()},
        "first_hwm_kb": hwm[0] if hwm else None,
        "first_maxrss_kb": first_maxrss,
        "hwm_kb": statistics.median(hwm[1:]) if len(hwm) > 1 else None,
        "checks": checks,
    }


def python_peak_kb(reads: Reads, kind: str) -> float:
    """The tracemalloc peak of one more read (of a page load: its History run alone)."""
    gc.collect()
    peaks: list[int] = []
    if kind == "page":
        reads.page(around=lambda: _traced(peaks))
    else:
        with _traced(peaks):
            reads.read(kind)
    reads.last = None
    return peaks[0] / 1024


def print_profiles(reads: Reads, kind: str, scenario: str) -> None:
    """cProfile of one more data path or page load; other reads are not profiled."""
    profiles: list[cProfile.Profile] = []
    if kind == "data":
        with _profiled(profiles):
            reads.data()
        _print_profile(f"{scenario} data path", profiles, 25)
    elif kind == "page":
        reads.page(around=lambda: _profiled(profiles))
        _print_profile(f"{scenario} page load, script thread", profiles[:-1], 30)
        _print_profile(f"{scenario} page load, test thread", profiles[-1:], 10)


# --------------------------------------------------------------------------- parent


def child_env(tmp: Path, server: dict[str, str]) -> dict[str, str]:
    """The readers' environment: isolated, its files in ``tmp``, pointed at ``server``."""
    # The chat page builds a Bedrock client, never called: a region is all it needs.
    fixed = {"AWS_DEFAULT_REGION": "us-east-1", "PYTHONUNBUFFERED": "1"}
    return bench_env(tmp, fixed, server)


def run_child(
    backend: str,
    kind: str,
    targets: tuple[str, str],
    repeats: int,
    trace: bool,
    args: argparse.Namespace,
    env: dict[str, str],
) -> dict[str, Any] | None:
    options = [
        "--scenario", backend, "--part", kind, "--target", targets[0],
        "--warm-target", targets[1], "--repeats", str(repeats),
    ]  # fmt: skip
    if trace:
        options.append("--trace")
    if args.profile:
        options.append("--profile")
    done = child.run("bench.history", options, env)
    if args.profile:  # the child's profiles
        for line in done.output:
            print(line)
    if done.result is None:
        print(f"WARNING: {backend} {kind} failed (exit {done.returncode}):")
        print("\n".join(done.stderr.strip().splitlines()[-15:]))
    return done.result


def sqlite_part(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    path, meta = sqlite_file(args.sqlite_rows, args.rebuild)
    warm, _ = sqlite_file(WARM_ROWS, False)
    how = "reused the cached file, built" if meta["cached"] else "built"
    print(
        f"SQLite: {args.sqlite_rows:,} dialogs, {USERS} users, last 6 days, "
        f"{path.stat().st_size / 1e6:,.0f} MB at {path}; {how} in "
        f"{meta['generate_s'] + meta['insert_s']:.1f} s (rows {meta['generate_s']:.1f} s + "
        f"one executemany of the store's upsert {meta['insert_s']:.1f} s)"
    )
    db = sqlite3.connect(path)
    bounds = tuple(key_bound(at) for at in page_range())
    for label, order in (("the store's", "request_time"), ("index-order", "day, request_time")):
        plan = db.execute(
            f"EXPLAIN QUERY PLAN SELECT {', '.join(FIELDS)} FROM dialogs "
            f"WHERE day >= ? AND day <= ? ORDER BY {order}",
            bounds,
        ).fetchall()
        print(f"  plan of {label} ORDER BY {order}: " + "; ".join(row[-1] for row in plan))
    db.close()
    env = child_env(tmp, {})
    return {
        kind: run_child("sqlite", kind, (str(path), str(warm)), args.repeats, True, args, env)
        for kind in ("raw", "raw-sorted", "raw-index-order", "data", "page")
    }


def dynamo_part(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from loopback.dynamodb import MotoDynamo

    table = f"{TABLE_PREFIX}-{uuid.uuid4().hex[:8]}"
    with MotoDynamo() as moto, environ_as(env := child_env(tmp, moto.env())):
        built = build_dynamo(table, args.dynamo_rows)
        build_dynamo(f"{table}-warm", WARM_ROWS)
        print(
            f"DynamoDB: {args.dynamo_rows:,} dialogs, last 6 days, in moto's server "
            f"{moto.url} (this process); table + index {built['create_s']:.1f} s, items "
            f"{built['generate_s']:.1f} s, {built['calls']} batch_write_item calls on "
            f"{built['threads']} threads {built['load_s']:.1f} s"
        )
        targets = (table, f"{table}-warm")
        return {
            kind: run_child("dynamo", kind, targets, args.dynamo_repeats, kind == "page", args, env)
            for kind in ("raw", "data", "page")
        }


def _row(label: str, r: dict[str, Any] | None, expected: int, table: bool = False) -> str:
    """One read's figures; for the page, ``pages`` is the rows sent to the table ("t")."""
    if r is None:
        return f"{label:<35}{'failed':>8}"
    items, pages = r["checks"]
    flag = "" if items == expected else " !"
    shown = f"{pages}t" if table else str(pages)
    return (
        f"{label:<35}{statistics.median(r['times']):>7.3f}{min(r['times']):>7.3f}"
        f"{r['cpu']:>7.3f}{items:>7}{flag:<2}{shown:>5}{_mb(r['first_hwm_kb']):>6}"
        f"{_mb(r['first_maxrss_kb']):>8}{_mb(r['hwm_kb']):>6}{_mb(r['py_peak_kb']):>8}"
    )


def _sub(label: str, seconds: float | None, note: str = "") -> str:
    value = "-" if seconds is None else f"{seconds:.3f}"
    return f"  {label:<33}{value:>7}  {note}".rstrip()


def report(name: str, parts: dict[str, Any], rows: int) -> None:
    print()
    print(f"{name}: {rows:,} dialogs in range")
    print(
        f"{'(s; MB)':<35}{'median':>7}{'min':>7}{'cpu':>7}{'items':>7}{'':2}{'pages':>5}"
        f"{'RSS+':>6}{'maxrss+':>8}{'HWM+':>6}{'py peak':>8}"
    )
    raw_label = "raw SQL + fetchall" if "raw-sorted" in parts else "raw paginated Query, 1/day"
    print(_row(raw_label, parts["raw"], rows))
    if "raw-sorted" in parts:
        print(_row("  + ORDER BY request_time", parts["raw-sorted"], rows))
        print(_row("  + ORDER BY day, request_time (store's)", parts["raw-index-order"], rows))
    data = parts["data"]
    print(_row("data path: browse + dialogs_frame", data, rows))
    if data:
        print(_sub("store.browse", data["split"].get("browse")))
        print(_sub("analytics.dialogs_frame", data["split"].get("frame")))
        print(_sub("apply_filters, no filter set", data["split"].get("filter"), "(not above)"))
    page = parts["page"]
    print(_row("page load: switch_page(...).run()", page, rows, table=True))
    if page:
        read = page["split"].get("in_page_read")
        print(_sub("read, per the page's caption", read, "browse + frame + filters"))
        rest = None if read is None else statistics.median(page["times"]) - read
        print(_sub("rest: widgets, table, charts", rest, "incl. AppTest's message parsing"))
        print(_sub("next rerun (a filter, a page)", page["split"].get("rerun"), "cached read"))


def goal_lines(args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    if "sqlite" in results:
        page = results["sqlite"]["page"]
        if page:
            load = statistics.median(page["times"])
            measured = f"SQLite History load for {args.sqlite_rows:,} dialogs: {load:.2f} s"
            print(goal_line(measured, f"< {SQLITE_GOAL_S:g} s", load < SQLITE_GOAL_S))
        else:
            print("SQLite History load: not measured (failed): MISS")
    if "dynamo" in results:
        raw, data, page = (results["dynamo"][kind] for kind in ("raw", "data", "page"))
        if not (raw and data and page):
            print("DynamoDB History load / raw paginated query: not measured (failed): MISS")
            return
        base = statistics.median(raw["times"])
        data_ratio = statistics.median(data["times"]) / base
        page_ratio = statistics.median(page["times"]) / base
        print(
            f"DynamoDB data path / raw paginated query: {data_ratio:.2f} x wall, "
            f"{data['cpu'] / raw['cpu']:.2f} x client CPU"
        )
        print(
            f"DynamoDB page load / raw paginated query: {page_ratio:.2f} x wall, "
            f"{page['cpu'] / raw['cpu']:.2f} x client CPU"
        )
        measured = f"DynamoDB History load / raw paginated query: {page_ratio:.2f} x"
        goal = f"<= {DYNAMO_GOAL_RATIO:g} x; page load, wall time"
        print(goal_line(measured, goal, page_ratio <= DYNAMO_GOAL_RATIO))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-rows", type=int, default=100_000, help="dialogs in SQLite")
    parser.add_argument("--dynamo-rows", type=int, default=10_000, help="dialogs in DynamoDB")
    parser.add_argument("--repeats", type=int, default=5, help="timed SQLite reads of each kind")
    parser.add_argument(
        "--dynamo-repeats", type=int, default=2, help="timed DynamoDB reads of each kind"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached SQLite file")
    parser.add_argument("--only", choices=("sqlite", "dynamo"), help="run one backend")
    parser.add_argument("--profile", action="store_true", help="cProfile data path and page")
    parser.add_argument("--scenario", choices=("sqlite", "dynamo"), help=argparse.SUPPRESS)
    parser.add_argument("--part", choices=[*KINDS], help=argparse.SUPPRESS)
    parser.add_argument("--target", help=argparse.SUPPRESS)
    parser.add_argument("--warm-target", help=argparse.SUPPRESS)
    parser.add_argument("--trace", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.repeats = max(1, args.repeats)
    args.dynamo_repeats = max(1, args.dynamo_repeats)
    return args


def print_legend() -> None:
    print()
    print("cpu: median CPU time of the reading process (moto's is in the parent, not here)")
    print("items: dialogs read, the page's metric for the page (! = not all); 500t: table rows")
    print("RSS+: peak-RSS growth over the first timed read, the first large one of its process")
    print("      (VmHWM reset just before); maxrss+: ru_maxrss growth over that read, which stays")
    print("      0 below an earlier peak of the process (imports); HWM+: the same as RSS+ for")
    print("      the later reads (median), lower as freed memory is reused; py peak: tracemalloc")
    print("      peak of one more read (the page: of the switch_page run alone)")
    print()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.scenario:  # a child: one kind of read of one backend, in its own process
        child.report(run_scenario(args))
        return 0

    print(
        versions_line("streamlit", "pandas", "pyarrow", "boto3", "botocore", "moto"),
        f" sqlite {sqlite3.sqlite_version}",
    )
    since, until = page_range()
    print(
        f"range {since:%Y-%m-%d %H:%M} .. {until:%Y-%m-%d %H:%M} UTC (the page's default); "
        f"timed reads: SQLite {args.repeats}, DynamoDB {args.dynamo_repeats} of each kind, "
        f"each kind in its own process after a warm-up on a {WARM_ROWS}-dialog store"
    )
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with scratch("history") as tmp:
        if args.only in (None, "sqlite"):
            results["sqlite"] = sqlite_part(args, tmp)
        if args.only in (None, "dynamo"):
            results["dynamo"] = dynamo_part(args, tmp)

    if "sqlite" in results:
        report("SQLite", results["sqlite"], args.sqlite_rows)
    if "dynamo" in results:
        report("DynamoDB (moto server)", results["dynamo"], args.dynamo_rows)
    print_legend()
    goal_lines(args, results)
    print(total_run_line(started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
