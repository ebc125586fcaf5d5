"""Load time and memory of the analysts' History page over a large store, next to a raw read.

Two stores, each read three ways for the page's default range (the last 7 days, UTC):

- SQLite, ``--sqlite-rows`` dialogs (default 100,000) of 500 users over the last 6 days,
  written with the store's own upsert in one ``executemany``, in time order. The file is kept
  under the temp dir, keyed by row count and UTC date, and reused (``--rebuild`` to redo).
- DynamoDB, ``--dynamo-rows`` dialogs (default 10,000) in moto's server (``loopback``), its
  table made by ``create_table`` and filled with ``batch_write_item`` of the store's items.

The three reads:

- raw: SQLite ``SELECT ... WHERE day BETWEEN ? AND ?`` + ``fetchall``; DynamoDB one paginated
  boto3 Query per day on the ``by_day`` index, items kept as raw dicts.
- data path: ``store.browse(...)`` then ``analytics.dialogs_frame`` (and, shown apart, the
  page's ``apply_filters`` with no filter set).
- page load: ``AppTest.from_file("app.py")``, ``run()`` (the chat page), then the timed
  ``switch_page("pages/history.py").run()``; a fresh AppTest each repeat, after one warm-up.

Each read runs in a process of its own (``--scenario``, re-invoking this module), so peaks do
not mix: "RSS+" is ``ru_maxrss`` growth over the first (cold) read of that process, "HWM+" the
median growth of the peak RSS over the warm repeats (VmHWM, reset through
``/proc/self/clear_refs`` before each), "py peak" the ``tracemalloc`` peak of one extra read.
moto runs in this parent process, so its memory is in none of them.

    python -m bench.history [--sqlite-rows 100000] [--dynamo-rows 10000] [--repeats 5]
                            [--rebuild] [--only sqlite|dynamo] [--profile]

``--profile`` adds a cProfile of one data path and one page load (both threads of AppTest)
to the output. A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import random
import re
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from chatbot.config import MODEL_CHOICES  # noqa: E402
from chatbot.modes import MODES, SUMMARY  # noqa: E402
from chatbot.store.base import (  # noqa: E402
    FIELDS,
    Dialog,
    Status,
    format_request_time,
    key_bound,
)

APP = str(ROOT / "app.py")
PAGE = "pages/history.py"
ANALYST = "bench-analyst"  # the local-mode user id the AppTest types; owns no dialogs
TABLE_PREFIX = "bench-history"
USERS = 500
SPAN = timedelta(days=6)
SEED = 20251125
DATA_VERSION = 1  # bump when the generated rows change, to invalidate cached files
PAGE_ROWS = 500  # pages/history.py shows this many rows at once

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


def _version(package: str) -> str:
    try:
        return version(package)
    except PackageNotFoundError:
        return "?"


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


def _status_kb(field: str) -> int | None:
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_hwm() -> int | None:
    """Reset the peak RSS (VmHWM) to the current RSS; that RSS in KiB, or None if unsupported."""
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        return None
    return _status_kb("VmRSS")


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
    """Timed reads of one store in this process; each returns (items, pages)."""

    def __init__(self, backend: str, target: str) -> None:
        self.backend, self.target = backend, target
        self.since, self.until = page_range()
        self._store: Any = None
        self._client: Any = None
        self.last: Any = None  # the AppTest of the last page load
        self.py_peak = 0

    # raw ---------------------------------------------------------------------------------

    def raw(self) -> tuple[int, int]:
        if self.backend == "sqlite":
            return self._raw_sqlite(order=False)
        return self._raw_dynamo()

    def raw_ordered(self) -> tuple[int, int]:
        return self._raw_sqlite(order=True)

    def _raw_sqlite(self, order: bool) -> tuple[int, int]:
        columns = ", ".join(FIELDS)
        sql = f"SELECT {columns} FROM dialogs WHERE day BETWEEN ? AND ?"
        if order:
            sql += " ORDER BY request_time"  # what SqliteStore.browse asks for
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

    # data path ---------------------------------------------------------------------------

    def store(self) -> Any:
        if self._store is None:
            if self.backend == "sqlite":
                from chatbot.store.sqlite import SqliteStore

                self._store = SqliteStore(self.target)
            else:
                from chatbot.store.dynamodb import DynamoStore

                self._store = DynamoStore(self.target)
        return self._store

    def data(self, split: dict[str, list[float]] | None = None) -> tuple[int, int]:
        from chatbot import analytics

        began = time.perf_counter()
        dialogs, stats = self.store().browse(self.since, self.until)
        browsed = time.perf_counter()
        frame = analytics.dialogs_frame(dialogs)
        framed = time.perf_counter()
        analytics.apply_filters(frame, analytics.Filters())
        filtered = time.perf_counter()
        if split is not None:
            split.setdefault("browse", []).append(browsed - began)
            split.setdefault("frame", []).append(framed - browsed)
            split.setdefault("filter", []).append(filtered - framed)
        return len(frame), stats.pages

    # page load ---------------------------------------------------------------------------

    def page(self, split: dict[str, list[float]] | None = None, trace: bool = False) -> float:
        """One page load on a fresh AppTest; only ``switch_page(...).run()`` is timed.

        With ``trace``, tracemalloc runs around that call alone; ``self.py_peak`` gets its peak.
        """
        from streamlit.testing.v1 import AppTest

        at = AppTest.from_file(APP, default_timeout=120)
        at.query_params["user"] = ANALYST  # local mode: one person, their own analyst
        at.run()
        if at.exception:
            raise RuntimeError(f"chat page failed: {at.exception}")
        gc.collect()
        if trace:
            tracemalloc.start()
        began = time.perf_counter()
        at.switch_page(PAGE).run()
        took = time.perf_counter() - began
        if trace:
            self.py_peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        if at.exception:
            raise RuntimeError(f"History page failed: {[e.value for e in at.exception]}")
        if at.error:
            raise RuntimeError(f"History page error: {[e.value for e in at.error]}")
        if split is not None:
            split.setdefault("page", []).append(took)
            captions = [c.value for c in at.caption]
            found = next(
                (m for c in captions if (m := re.search(r"\(([\d.]+) ?(?:s|초)\)", c))), None
            )
            if found:
                split.setdefault("in_page_read", []).append(float(found.group(1)))
        self.last = at
        return took


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    gc.collect()
    began = time.perf_counter()
    result = fn()
    return time.perf_counter() - began, result


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


def _print_profile(title: str, profiles: list[cProfile.Profile], lines: int = 22) -> None:
    out = io.StringIO()
    stats = pstats.Stats(profiles[0], stream=out)
    for extra in profiles[1:]:
        stats.add(extra)
    stats.strip_dirs()
    print(f"\n--- profile: {title} (cumulative) ---")
    stats.sort_stats("cumulative").print_stats(lines)
    print(_trim_profile(out.getvalue()))
    out.seek(0)
    out.truncate()
    print(f"--- profile: {title} (own time) ---")
    stats.sort_stats("tottime").print_stats(lines)
    print(_trim_profile(out.getvalue()))


def _trim_profile(text: str) -> str:
    keep = text.split("   ncalls", 1)
    return ("   ncalls" + keep[1]).rstrip() if len(keep) == 2 else text.rstrip()


def run_scenario(backend: str, part: str, target: str, repeats: int, profile: bool) -> dict:
    """Child process: cold read, warm repeats, one traced read; a dict for the parent."""
    reads = Reads(backend, target)
    split: dict[str, list[float]] = {}
    checks: dict[str, Any] = {}
    if part == "page":
        # The chat page first, so its imports (LangChain, ...) are not charged to History.
        from streamlit.testing.v1 import AppTest

        warm = AppTest.from_file(APP, default_timeout=120)
        warm.query_params["user"] = ANALYST
        warm.run()

        def read() -> Any:
            return reads.page(split)
    elif part == "data":

        def read() -> Any:
            return reads.data(split)
    elif part == "raw-ordered":
        read = reads.raw_ordered
    else:
        read = reads.raw

    gc.collect()
    before = _maxrss_kb()
    cold_s, cold = _timed(read)
    cold_rss = _maxrss_kb() - before
    if part == "page":
        cold_s = split["page"][-1]
        at = reads.last
        checks["metric_dialogs"] = int(at.metric[0].value.replace(",", ""))
        checks["rows_shown"] = len(at.dataframe[0].value)
        reads.last = at = None
    else:
        checks["items"], checks["pages"] = cold
    split.clear()  # the warm repeats only

    times: list[float] = []
    hwm: list[float] = []
    for _ in range(repeats):
        gc.collect()
        base = _reset_hwm()
        took, _ = _timed(read)
        peak = _status_kb("VmHWM")
        if base is not None and peak is not None:
            hwm.append(peak - base)
        times.append(split["page"][-1] if part == "page" else took)

    gc.collect()
    if part == "page":
        reads.page(trace=True)
        py_peak = reads.py_peak
    else:
        tracemalloc.start()
        read()
        py_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()

    if profile and part in ("data", "page"):
        if part == "data":
            prof = cProfile.Profile()
            prof.enable()
            reads.data()
            prof.disable()
            _print_profile(f"{backend} data path", [prof])
        else:
            profiles: list[cProfile.Profile] = []
            main_prof = cProfile.Profile()
            with _profiled_script_threads(profiles):
                main_prof.enable()
                reads.page()
                main_prof.disable()
            _print_profile(f"{backend} page load, script thread", profiles)
            _print_profile(f"{backend} page load, test thread (waits, then parses)", [main_prof])

    return {
        "cold_s": cold_s,
        "times": times,
        "split": {k: statistics.median(v) for k, v in split.items()},
        "cold_rss_kb": cold_rss,
        "hwm_kb": statistics.median(hwm) if hwm else None,
        "py_peak_kb": py_peak / 1024,
        "checks": checks,
    }


# --------------------------------------------------------------------------- parent


_PROJECT_VARS = (
    "BEDROCK_MODEL_ID",
    "BEDROCK_REGION",
    "CHAT_HISTORY_TABLE",
    "CHAT_HISTORY_DB",
    "CHAT_WINDOW_K",
    "CHAT_HISTORY_DAYS",
    "CHAT_MAX_INPUT_CHARS",
    "ANALYSTS",
)


def child_env(extra: dict[str, str], scratch: Path) -> dict[str, str]:
    """This environment without AWS or project settings, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name not in _PROJECT_VARS
    }
    env.update(
        AWS_CONFIG_FILE=str(scratch / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(scratch / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        AWS_DEFAULT_REGION="us-east-1",  # the chat page builds its Bedrock client; never called
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def run_child(
    backend: str, part: str, target: str, args: argparse.Namespace, env: dict[str, str]
) -> dict | None:
    command = [
        sys.executable, "-m", "bench.history", "--scenario", backend, "--part", part,
        "--target", target, "--repeats", str(args.repeats),
    ]  # fmt: skip
    if args.profile:
        command.append("--profile")
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    result = None
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
        else:
            print(line)
    if result is None:
        print(f"WARNING: {backend} {part} failed (exit {done.returncode}):")
        print("\n".join(done.stderr.strip().splitlines()[-15:]))
    return result


def _row(label: str, r: dict | None, items: Any = "", pages: Any = "") -> str:
    if r is None:
        return f"{label:<34}{'failed':>8}"
    med = statistics.median(r["times"])
    return (
        f"{label:<34}{med:>8.3f}{min(r['times']):>8.3f}{r['cold_s']:>8.3f}"
        f"{items!s:>8}{pages!s:>6}{_mb(r['cold_rss_kb']):>7}{_mb(r['hwm_kb']):>7}"
        f"{_mb(r['py_peak_kb']):>8}"
    )


def _sub(label: str, seconds: float | None, note: str = "") -> str:
    value = "-" if seconds is None else f"{seconds:.3f}"
    return f"  {label:<32}{value:>8}  {note}"


def _header() -> str:
    return (
        f"{'(seconds; memory MB)':<34}{'median':>8}{'min':>8}{'cold':>8}"
        f"{'items':>8}{'pages':>6}{'RSS+':>7}{'HWM+':>7}{'py peak':>8}"
    )


def sqlite_part(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    path, meta = sqlite_file(args.sqlite_rows, args.rebuild)
    size = path.stat().st_size / 1e6
    how = "reused cached file, which was built" if meta["cached"] else "built"
    print(
        f"SQLite: {args.sqlite_rows:,} dialogs, {USERS} users, last 6 days; {path} "
        f"({size:,.0f} MB); {how} in {meta['generate_s'] + meta['insert_s']:.1f} s "
        f"(rows {meta['generate_s']:.1f} s + executemany upsert {meta['insert_s']:.1f} s)"
    )
    db = sqlite3.connect(path)
    since, until = page_range()
    plan = db.execute(
        f"EXPLAIN QUERY PLAN SELECT {', '.join(FIELDS)} FROM dialogs WHERE day >= ? AND day <= ? "
        "ORDER BY request_time",
        (key_bound(since), key_bound(until)),
    ).fetchall()
    db.close()
    print("  store's browse query plan: " + "; ".join(row[-1] for row in plan))
    env = child_env({"CHAT_HISTORY_DB": str(path)}, scratch)
    return {
        part: run_child("sqlite", part, str(path), args, env)
        for part in ("raw", "raw-ordered", "data", "page")
    }


def dynamo_part(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    from loopback.dynamodb import MotoDynamo

    table = f"{TABLE_PREFIX}-{uuid.uuid4().hex[:8]}"
    saved = dict(os.environ)
    with MotoDynamo() as moto:
        try:
            os.environ.update(child_env(moto.env(), scratch))
            built = build_dynamo(table, args.dynamo_rows)
            print(
                f"DynamoDB (moto {moto.url} in this process): {args.dynamo_rows:,} dialogs, "
                f"last 6 days; table+index {built['create_s']:.1f} s, items "
                f"{built['generate_s']:.1f} s, {built['calls']} batch_write_item calls on "
                f"{built['threads']} threads {built['load_s']:.1f} s"
            )
            env = child_env({**moto.env(), "CHAT_HISTORY_TABLE": table}, scratch)
            return {
                part: run_child("dynamo", part, table, args, env)
                for part in ("raw", "data", "page")
            }
        finally:
            os.environ.clear()
            os.environ.update(saved)


def report(name: str, parts: dict[str, Any], rows: int) -> None:
    raw, data, page = parts["raw"], parts["data"], parts["page"]
    print()
    print(f"{name}: {rows:,} dialogs")
    print(_header())
    label = "raw SQL, fetchall" if name == "SQLite" else "raw paginated Query, per day"
    print(_row(label, raw, *(raw["checks"].values() if raw else ())))
    if "raw-ordered" in parts:
        ordered = parts["raw-ordered"]
        print(
            _row(
                "  same + ORDER BY request_time",
                ordered,
                *(ordered["checks"].values() if ordered else ()),
            )
        )
    print(_row("data path: browse + frame", data, *(data["checks"].values() if data else ())))
    if data:
        s = data["split"]
        print(_sub("store.browse", s.get("browse")))
        print(_sub("analytics.dialogs_frame", s.get("frame")))
        print(_sub("apply_filters (no filter set)", s.get("filter"), "in the page, not above"))
    if page:
        c = page["checks"]
        print(_row("page load: switch_page().run()", page, c.get("metric_dialogs"), ""))
        read = page["split"].get("in_page_read")
        print(_sub("read, as the page's caption says", read, "browse + frame + filters"))
        rest = None if read is None else statistics.median(page["times"]) - read
        print(_sub("rest: widgets, arrow, charts", rest, f"{c.get('rows_shown')} rows in table"))
    else:
        print(_row("page load: switch_page().run()", None))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sqlite-rows", type=int, default=100_000, help="dialogs in SQLite")
    parser.add_argument("--dynamo-rows", type=int, default=10_000, help="dialogs in DynamoDB")
    parser.add_argument("--repeats", type=int, default=5, help="timed reads after a warm-up")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached SQLite file")
    parser.add_argument("--only", choices=("sqlite", "dynamo"), help="run one backend")
    parser.add_argument("--profile", action="store_true", help="cProfile data path and page")
    parser.add_argument("--scenario", choices=("sqlite", "dynamo"), help=argparse.SUPPRESS)
    parser.add_argument(
        "--part", choices=("raw", "raw-ordered", "data", "page"), help=argparse.SUPPRESS
    )
    parser.add_argument("--target", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.repeats = max(1, args.repeats)

    if args.scenario:  # a child: one backend, one read, its own process
        result = run_scenario(args.scenario, args.part, args.target, args.repeats, args.profile)
        print("RESULT " + json.dumps(result), flush=True)
        return 0

    import pyarrow

    print(
        f"python {platform.python_version()}  streamlit {_version('streamlit')}  "
        f"pandas {_version('pandas')}  pyarrow {pyarrow.__version__}  boto3 {_version('boto3')}  "
        f"botocore {_version('botocore')}  moto {_version('moto')}  "
        f"sqlite {sqlite3.sqlite_version}  cpus {os.cpu_count()}"
    )
    since, until = page_range()
    print(
        f"range {since:%Y-%m-%d %H:%M} .. {until:%Y-%m-%d %H:%M} UTC (the page's default); "
        f"{args.repeats} timed repeats after 1 cold read, each read kind in its own process"
    )
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-history-") as tmp:
        scratch = Path(tmp)
        if args.only in (None, "sqlite"):
            results["sqlite"] = sqlite_part(args, scratch)
        if args.only in (None, "dynamo"):
            results["dynamo"] = dynamo_part(args, scratch)

    if "sqlite" in results:
        report("SQLite", results["sqlite"], args.sqlite_rows)
    if "dynamo" in results:
        report("DynamoDB (moto server)", results["dynamo"], args.dynamo_rows)
    print()
    print(
        "cold: the first read of its process. RSS+: ru_maxrss growth over that cold read; "
        "HWM+: median peak-RSS growth of the warm reads (VmHWM reset before each); py peak: "
        "tracemalloc peak of one more read. Page memory includes AppTest's own parsing."
    )

    print()
    if "sqlite" in results:
        page = results["sqlite"]["page"]
        if page:
            load = statistics.median(page["times"])
            print(
                f"SQLite History load for {args.sqlite_rows:,} dialogs: {load:.2f} s "
                f"(goal < {SQLITE_GOAL_S:g} s): {'PASS' if load < SQLITE_GOAL_S else 'MISS'}"
            )
        else:
            print("SQLite History load: not measured (failed): MISS")
    if "dynamo" in results:
        parts = results["dynamo"]
        if parts["raw"] and parts["page"] and parts["data"]:
            raw = statistics.median(parts["raw"]["times"])
            page_ratio = statistics.median(parts["page"]["times"]) / raw
            data_ratio = statistics.median(parts["data"]["times"]) / raw
            print(f"DynamoDB data path (browse + frame) / raw paginated query: {data_ratio:.2f} x")
            print(
                f"DynamoDB History load / raw paginated query: {page_ratio:.2f} x "
                f"(goal <= {DYNAMO_GOAL_RATIO:g} x, on the page load): "
                f"{'PASS' if page_ratio <= DYNAMO_GOAL_RATIO else 'MISS'}"
            )
        else:
            print("DynamoDB History load / raw paginated query: not measured (failed): MISS")
    print(f"total run {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
