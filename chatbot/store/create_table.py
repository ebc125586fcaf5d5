"""Create the dialog table and its indexes, or bring an existing table up to date.

    python -m chatbot.store.create_table [--table NAME] [--region R] [--backfill-day]
                                         [--backfill-conversations]
                                         [--recount-rollups FIRST LAST]

Idempotent: an existing table keeps its data; a table of the original system, or of an
earlier version, gets the missing indexes added, one at a time (DynamoDB builds one per
request). ``--backfill-day`` then gives the original's items the ``day`` attribute, so the
analysts' History page (which reads ``by_day``) sees them; ``--backfill-conversations`` puts
every dialog written before conversations into its session's (or, for the original's
items, its day's) conversation, with the conversation's summary, so users' lists show them.
``--recount-rollups FIRST LAST`` rebuilds the History page's daily rollups of those days
(``YYYY-MM-DD`` in ``CHAT_REPORT_TIMEZONE``) from their dialogs: once after upgrading a table
whose dialogs were written before rollups (after ``--backfill-day`` for the original's), and
after changing the report time zone. Dialogs written meanwhile may be missed: run it while
the app is quiet, or run it again.

It needs the permissions of ``iam/admin-policy.json``, which the app's own policy lacks; its
requests carry their own user agent, so the loopback tests check them against that policy.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chatbot.aws import ADMIN_USER_AGENT
from chatbot.config import ConfigError, Settings
from chatbot.store.base import (
    Dialog,
    DialogType,
    StoreError,
    conversation_of,
    parse_request_time,
)
from chatbot.store.dynamodb import (
    CONVERSATION_INDEX,
    DAY_INDEX,
    RECENT_INDEX,
    DynamoStore,
    condition_failed,
    dynamodb_client,
    store_error,
)

__all__ = ["backfill_conversations", "backfill_day", "create_table", "main"]

_KEY_SCHEMA = [
    {"AttributeName": "user_id", "KeyType": "HASH"},
    {"AttributeName": "request_time", "KeyType": "RANGE"},
]
_ATTRIBUTES = [
    {"AttributeName": name, "AttributeType": "S"}
    for name in ("user_id", "request_time", "day", "conversation_id", "updated")
]


def _index(name: str, partition: str, sort: str) -> dict[str, Any]:
    return {
        "IndexName": name,
        "KeySchema": [
            {"AttributeName": partition, "KeyType": "HASH"},
            {"AttributeName": sort, "KeyType": "RANGE"},
        ],
        "Projection": {"ProjectionType": "ALL"},
    }


_INDEXES = (
    _index(DAY_INDEX, "day", "request_time"),
    _index(CONVERSATION_INDEX, "conversation_id", "request_time"),
    _index(RECENT_INDEX, "user_id", "updated"),
)
# Table creation takes seconds; poll often enough that the command feels prompt.
_TABLE_WAITER = {"Delay": 2, "MaxAttempts": 150}


def _describe(client: Any, name: str) -> dict[str, Any] | None:
    try:
        return client.describe_table(TableName=name)["Table"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise


def _index_status(table: dict[str, Any], name: str) -> str | None:
    for index in table.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] == name:
            return str(index.get("IndexStatus", "ACTIVE"))
    return None


def _wait_for_index(
    client: Any, table_name: str, name: str, *, delay: float = 10.0, timeout: float = 3600.0
) -> None:
    """botocore has no waiter for a GSI; building one over a large table can take long."""
    deadline = time.monotonic() + timeout
    while True:
        status = _index_status(_describe(client, table_name) or {}, name)
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise StoreError(
                f"index {name!r} of {table_name!r} is still {status}; run the command again "
                "to keep waiting"
            )
        print(f"waiting for index {name!r} of {table_name!r} ({status})...", flush=True)
        time.sleep(delay)


def create_table(client: Any, name: str, *, index_delay: float = 10.0) -> bool:
    """Make ``name`` exist with its indexes, waiting until usable; True if created."""
    table = _describe(client, name)
    if table is None:
        try:
            client.create_table(
                TableName=name,
                KeySchema=_KEY_SCHEMA,
                AttributeDefinitions=_ATTRIBUTES,
                GlobalSecondaryIndexes=list(_INDEXES),
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as error:
            # Another run created it between our describe and create: that is success too.
            if error.response.get("Error", {}).get("Code") != "ResourceInUseException":
                raise
        else:
            client.get_waiter("table_exists").wait(TableName=name, WaiterConfig=_TABLE_WAITER)
            return True
    client.get_waiter("table_exists").wait(TableName=name, WaiterConfig=_TABLE_WAITER)
    for wanted in _INDEXES:
        table = _describe(client, name) or {}
        if _index_status(table, wanted["IndexName"]) is None:
            _add_index(client, table, wanted)
        _wait_for_index(client, name, wanted["IndexName"], delay=index_delay)
    return False


def _add_index(client: Any, table: dict[str, Any], wanted: dict[str, Any]) -> None:
    index = dict(wanted)
    billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
    if billing == "PROVISIONED":
        # A provisioned table's index needs its own capacity: mirror the table's.
        throughput = table.get("ProvisionedThroughput", {})
        index["ProvisionedThroughput"] = {
            "ReadCapacityUnits": throughput.get("ReadCapacityUnits") or 5,
            "WriteCapacityUnits": throughput.get("WriteCapacityUnits") or 5,
        }
    client.update_table(
        TableName=table["TableName"],
        AttributeDefinitions=_ATTRIBUTES,
        GlobalSecondaryIndexUpdates=[{"Create": index}],
    )
    print(f"adding index {index['IndexName']!r} to {table['TableName']!r}...", flush=True)


def _legacy_items(client: Any, name: str, missing: str, *fields: str) -> Iterator[dict[str, Any]]:
    """Every dialog item without the attribute ``missing``, with ``fields`` and its key.

    Scans: a one-off admin pass over a table of an earlier version. Markers, summaries and
    rollups (sort keys from "!") are not dialogs."""
    names = {f"#a{i}": field for i, field in enumerate(("user_id", "request_time", *fields))}
    names["#m"] = missing
    for page in client.get_paginator("scan").paginate(
        TableName=name,
        ProjectionExpression=", ".join(key for key in names if key != "#m"),
        FilterExpression="attribute_not_exists(#m) AND NOT begins_with(#a1, :bang)",
        ExpressionAttributeNames=names,
        ExpressionAttributeValues={":bang": {"S": "!"}},
    ):
        yield from page.get("Items", [])


def _set_if_exists(client: Any, name: str, item: dict[str, Any], field: str, value: str) -> bool:
    """Set one attribute of a dialog item; False if it was deleted since the scan."""
    try:
        client.update_item(
            TableName=name,
            Key={"user_id": item["user_id"], "request_time": item["request_time"]},
            UpdateExpression="SET #f = :v",
            # Deleted since the scan: do not bring it back as a stub.
            ConditionExpression="attribute_exists(#u)",
            ExpressionAttributeNames={"#f": field, "#u": "user_id"},
            ExpressionAttributeValues={":v": {"S": value}},
        )
    except ClientError as error:
        if not condition_failed(error):
            raise
        return False
    return True


def backfill_day(client: Any, name: str) -> int:
    """Set ``day`` on items of the original system; the number of items updated."""
    updated = skipped = 0
    for item in _legacy_items(client, name, "day"):
        request_time = item["request_time"]["S"]
        try:
            day = parse_request_time(request_time).strftime("%Y-%m-%d")
        except ValueError:
            skipped += 1
            print(f"skipped {item['user_id']['S']!r} {request_time!r}: not a time")
            continue
        updated += _set_if_exists(client, name, item, "day", day)
    if skipped:
        print(f"{skipped} items have a request_time that is not a time; left without a day")
    return updated


def backfill_conversations(client: Any, name: str) -> int:
    """Give dialogs written before conversations their conversation, and each conversation
    its summary; the number of dialogs updated. Run again, it does nothing more."""
    store = DynamoStore(name, client=client)
    updated = 0
    for item in _legacy_items(client, name, "conversation_id", "session_id", "type", "body"):
        dialog = Dialog(
            user_id=item["user_id"]["S"],
            request_time=item["request_time"]["S"],
            request_id="",
            type=item.get("type", {}).get("S", DialogType.TEXT),
            body=item.get("body", {}).get("S", ""),
            msg="",
            session_id=item.get("session_id", {}).get("S"),
        )
        conversation_id = conversation_of(dialog)
        if _set_if_exists(client, name, item, "conversation_id", conversation_id):
            store.write_summary(dialog._replace(conversation_id=conversation_id))
            updated += 1
    return updated


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chatbot.store.create_table", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--table", help="table name (default: CHAT_HISTORY_TABLE)")
    parser.add_argument(
        "--region",
        help="AWS region (default: AWS_REGION, else AWS_DEFAULT_REGION, else the profile's region)",
    )
    parser.add_argument(
        "--backfill-day",
        action="store_true",
        help="set `day` on items written by the original system (scans the table once)",
    )
    parser.add_argument(
        "--backfill-conversations",
        action="store_true",
        help="group dialogs written before conversations into conversations (scans once)",
    )
    parser.add_argument(
        "--recount-rollups",
        nargs=2,
        metavar=("FIRST", "LAST"),
        type=date.fromisoformat,
        help="rebuild the daily rollups of the days FIRST to LAST (YYYY-MM-DD, both included, "
        "in CHAT_REPORT_TIMEZONE) from their dialogs: after upgrading a table with dialogs "
        "written before rollups, or changing the time zone; reads those days' dialogs once",
    )
    args = parser.parse_args(argv)
    if args.recount_rollups and args.recount_rollups[0] > args.recount_rollups[1]:
        parser.error("--recount-rollups: FIRST is after LAST")
    try:
        # Settings only when needed: a bad unrelated one does not stop the command.
        settings = Settings.load() if args.recount_rollups or not args.table else Settings()
    except ConfigError as error:
        parser.error(str(error))
    name = args.table or settings.chat_history_table
    if not name:
        parser.error("no table: pass --table or set CHAT_HISTORY_TABLE")
    try:
        client = dynamodb_client(args.region, user_agent=ADMIN_USER_AGENT)
        indexes = ", ".join(index["IndexName"] for index in _INDEXES)
        if create_table(client, name):
            print(f"created table {name!r} with indexes {indexes} (on-demand billing)")
        else:
            print(f"table {name!r} exists with indexes {indexes}")
        if args.backfill_day:
            count = backfill_day(client, name)
            print(f"set day on {count} items of {name!r}")
        if args.backfill_conversations:
            count = backfill_conversations(client, name)
            print(f"grouped {count} dialogs of {name!r} into conversations")
        if args.recount_rollups:
            first, last = args.recount_rollups
            store = DynamoStore(name, client=client, report_timezone=settings.report_timezone)
            count = store.recount(first.isoformat(), last.isoformat())
            days = (last - first).days + 1
            print(f"recounted the rollups of {days} days ({first} to {last}): {count} dialogs")
    except (ClientError, BotoCoreError) as error:
        print(store_error(error, name, "setting up the table"), file=sys.stderr)
        return 1
    except StoreError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
