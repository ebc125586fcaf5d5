"""A user's conversation list and one conversation, at scale, next to raw reads.

One user with ``--conversations`` conversations of ``--per`` dialogs each (default 10,000 x
10 = 100,000 dialogs), among ``--others`` other users with 20 dialogs each, written with the
stores' own statements (SQLite: the dialog upsert and the summary upsert, in one transaction;
DynamoDB: ``batch_write_item`` of the store's items and summaries, in moto's server).

Timed, medians of ``--repeats`` (each read on a fresh store object, so a new connection):

- list: the first page of the list (30, newest first), as the sidebar reads it:
  ``store.conversations(user, 30)``. SQLite goal: within 0.3 s. DynamoDB: against a raw
  boto3 Query of the same index page (goal: within 1.25x).
- open: one conversation's dialogs, ``store.conversation_dialogs``; against a raw Query of
  the ``by_conversation`` index on DynamoDB; and the items it read.
- search (SQLite): the newest 20 of the user's dialogs holding a word: a rare word and a
  common one through the trigram index, and two-syllable words (shorter than a trigram), a
  common and a rare one, read from the user's rows. Goal: within 0.5 s.
- without summaries (SQLite): reading every dialog of the user to find the newest
  conversations, what a list without summary rows would have to do.

    python -m bench.conversations [--conversations 10000] [--per 10] [--others 500]
                                  [--repeats 5] [--dynamo-conversations 10000]
                                  [--dynamo-per 10] [--only sqlite|dynamo]

A benchmark, not a test: it always exits 0.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import bench_env, environ_as, goal_line, scratch, versions_line
from chatbot.store.base import Dialog, conversation_title, format_request_time
from chatbot.store.dynamodb import (
    CONVERSATION_INDEX,
    RECENT_INDEX,
    DynamoStore,
    _serialize,
    _summary_key,
    dynamodb_client,
)
from chatbot.store.sqlite import _SUMMARY_UPSERT, _UPSERT, SqliteStore

USER = "bench-user"
PAGE = 30
LIST_GOAL_S = 0.3
SEARCH_GOAL_S = 0.5
DYNAMO_GOAL = 1.25


def dialogs(user: str, conversations: int, per: int, start: datetime) -> Iterator[Dialog]:
    """``per`` dialogs a conversation, a minute apart, conversations an hour apart."""
    for c in range(conversations):
        for d in range(per):
            at = start + timedelta(hours=c, minutes=d)
            request_id = f"{user}-{c:06d}-{d:03d}-0000-000000000000"
            yield Dialog(
                user_id=user,
                request_time=format_request_time(at, request_id),
                request_id=request_id,
                type="text",
                body=f"{c}번째 대화의 {d}번째 질문: 서울 지하철 요금은 얼마인가요?"
                + (" 제주도는요?" if c == conversations // 3 else ""),
                msg="서울 지하철 기본 요금은 1,400원입니다. " * 20,
                mode="normal",
                conversation_id=f"{user}-conversation-{c:06d}",
            )


def corpus(args: argparse.Namespace, conversations: int, per: int) -> Iterator[Dialog]:
    start = datetime.now(UTC) - timedelta(hours=conversations + 1)
    yield from dialogs(USER, conversations, per, start)
    for other in range(args.others):
        yield from dialogs(f"other-{other:04d}", 2, 10, start)


def timed(read: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    """The median seconds of ``repeats`` calls, and the last call's result."""
    seconds, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = read()
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


# --------------------------------------------------------------------------- SQLite


def build_sqlite(path: Path, args: argparse.Namespace) -> float:
    started = time.perf_counter()
    SqliteStore(path)  # the schema, the store's own way
    db = sqlite3.connect(path)
    with db:
        for dialog in corpus(args, args.conversations, args.per):
            db.execute(_UPSERT, [*dialog, dialog.day])
            title = conversation_title(dialog.type, dialog.body)
            summary = (dialog.user_id, dialog.conversation_id, title, dialog.request_time)
            db.execute(_SUMMARY_UPSERT, (*summary, dialog.request_time))
    db.close()
    return time.perf_counter() - started


def sqlite_part(args: argparse.Namespace, tmp: Path) -> None:
    path = tmp / "conversations.sqlite3"
    built = build_sqlite(path, args)
    total = args.conversations * args.per
    print(
        f"\nSQLite: {total:,} dialogs of {USER} in {args.conversations:,} conversations, "
        f"{args.others * 20:,} of {args.others} others; built in {built:.1f} s"
    )
    list_s, page = timed(lambda: SqliteStore(path).conversations(USER, PAGE), args.repeats)
    newest = page.conversations[0].conversation_id
    open_s, opened = timed(
        lambda: SqliteStore(path).conversation_dialogs(USER, newest), args.repeats
    )

    def without_summaries() -> list[str]:
        db = sqlite3.connect(path)
        rows = db.execute(
            "SELECT conversation_id, max(request_time) AS t FROM dialogs WHERE user_id = ? "
            "GROUP BY conversation_id ORDER BY t DESC LIMIT ?",
            (USER, PAGE),
        ).fetchall()
        db.close()
        return [row[0] for row in rows]

    searches = {
        "a rare word (trigram index)": f"{args.conversations // 2}번째",
        "a word in every question (trigram index)": "지하철",
        "a two-syllable word in every question (no index: the user's rows)": "요금",
        "a rare two-syllable word (no index: all the user's rows)": "제주",
    }
    search_s = {
        label: timed(lambda text=text: SqliteStore(path).search(USER, text, 20), args.repeats)
        for label, text in searches.items()
    }
    scan_s, ids = timed(without_summaries, args.repeats)
    assert ids == [c.conversation_id for c in page.conversations], "the two lists differ"
    print(f"  list, first page of {PAGE}: {list_s * 1000:.1f} ms")
    print(f"  open one conversation: {open_s * 1000:.1f} ms ({len(opened)} dialogs read)")
    print(f"  without summaries (every dialog of the user, grouped): {scan_s * 1000:.1f} ms")
    for label, (seconds, results) in search_s.items():
        print(f"  search, {label}: {seconds * 1000:.1f} ms ({len(results.dialogs)} shown)")
    print(goal_line(f"list {list_s:.3f} s", f"<= {LIST_GOAL_S} s", list_s <= LIST_GOAL_S))
    slowest = max(seconds for seconds, _ in search_s.values())
    met = slowest <= SEARCH_GOAL_S
    print(goal_line(f"slowest search {slowest:.3f} s", f"<= {SEARCH_GOAL_S} s", met))
    print(f"  file size {path.stat().st_size / 2**20:.0f} MB (the text index included)")


# --------------------------------------------------------------------------- DynamoDB


def build_dynamo(client: Any, table: str, args: argparse.Namespace) -> float:
    from chatbot.store.create_table import create_table

    started = time.perf_counter()
    create_table(client, table, index_delay=0.1)
    items: list[dict[str, Any]] = []
    newest: dict[tuple[str, str], Dialog] = {}
    for dialog in corpus(args, args.dynamo_conversations, args.dynamo_per):
        items.append(_serialize(dialog))
        key = (dialog.user_id, str(dialog.conversation_id))
        newest.setdefault(key, dialog)  # the first: the title's question
        newest[key] = newest[key]._replace(request_time=dialog.request_time)
    for (user, conversation), last in newest.items():
        summary = _summary_key(user, conversation)
        summary.update(
            title={"S": conversation_title(last.type, last.body)},
            title_time={"S": last.request_time},
            updated={"S": last.request_time},
        )
        items.append(summary)

    def write(batch: list[dict[str, Any]]) -> None:
        requests: dict[str, Any] = {table: [{"PutRequest": {"Item": item}} for item in batch]}
        while requests:
            requests = client.batch_write_item(RequestItems=requests).get("UnprocessedItems")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(write, [items[i : i + 25] for i in range(0, len(items), 25)]))
    return time.perf_counter() - started


def dynamo_part(args: argparse.Namespace, tmp: Path) -> None:
    from loopback.dynamodb import MotoDynamo

    table = "bench-conversations"
    with MotoDynamo() as moto, environ_as(bench_env(tmp, moto.env())):
        client = dynamodb_client(user_agent="bench")
        built = build_dynamo(client, table, args)
        total = args.dynamo_conversations * args.dynamo_per
        print(
            f"\nDynamoDB (moto): {total:,} dialogs of {USER} in "
            f"{args.dynamo_conversations:,} conversations, {args.others * 20:,} of others; "
            f"built in {built:.1f} s"
        )

        def raw_list() -> list[dict[str, Any]]:
            return client.query(
                TableName=table,
                IndexName=RECENT_INDEX,
                KeyConditionExpression="user_id = :u",
                ExpressionAttributeValues={":u": {"S": USER}},
                ScanIndexForward=False,
                Limit=PAGE,
            )["Items"]

        raw_s, raw = timed(raw_list, args.repeats)
        list_s, page = timed(lambda: DynamoStore(table).conversations(USER, PAGE), args.repeats)
        newest = page.conversations[0].conversation_id

        def raw_open() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = []
            for reply in client.get_paginator("query").paginate(
                TableName=table,
                IndexName=CONVERSATION_INDEX,
                KeyConditionExpression="conversation_id = :c",
                ExpressionAttributeValues={":c": {"S": newest}},
            ):
                items += reply["Items"]
            return items

        raw_open_s, raw_items = timed(raw_open, args.repeats)
        open_s, opened = timed(
            lambda: DynamoStore(table).conversation_dialogs(USER, newest), args.repeats
        )
        assert len(raw) == len(page.conversations) and len(raw_items) == len(opened)
        ratio, open_ratio = list_s / raw_s, open_s / raw_open_s
        print(
            f"  list, first page of {PAGE}: {list_s * 1000:.1f} ms vs raw Query "
            f"{raw_s * 1000:.1f} ms ({ratio:.2f}x)"
        )
        print(
            f"  open one conversation: {open_s * 1000:.1f} ms vs raw Query "
            f"{raw_open_s * 1000:.1f} ms ({open_ratio:.2f}x), {len(opened)} items read"
        )
        print(goal_line(f"list {ratio:.2f}x raw", f"<= {DYNAMO_GOAL}x", ratio <= DYNAMO_GOAL))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=10_000)
    parser.add_argument("--per", type=int, default=10, help="dialogs per conversation")
    parser.add_argument("--others", type=int, default=500, help="other users (20 dialogs each)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dynamo-conversations", type=int, default=10_000)
    parser.add_argument("--dynamo-per", type=int, default=10)
    parser.add_argument("--only", choices=("sqlite", "dynamo"))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(versions_line("boto3", "moto"))
    with scratch("conversations") as tmp:
        if args.only != "dynamo":
            sqlite_part(args, tmp)
        if args.only != "sqlite":
            dynamo_part(args, tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
