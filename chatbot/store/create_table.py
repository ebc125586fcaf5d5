"""Create the dialog table and its ``by_day`` index, or bring an existing table up to date.

    python -m chatbot.store.create_table [--table NAME] [--region R] [--backfill-day]

Idempotent: an existing table keeps its data; a table of the original system gets the index
added. ``--backfill-day`` then gives the original's items the ``day`` attribute, so the
analysts' History page (which reads the index) sees them.

It needs the permissions of ``iam/admin-policy.json``, which the app's own policy lacks; its
requests carry their own user agent, so the loopback tests check them against that policy.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chatbot.aws import ADMIN_USER_AGENT
from chatbot.config import ConfigError, Settings
from chatbot.store.base import StoreError, parse_request_time
from chatbot.store.dynamodb import CHAT_START_KEY, DAY_INDEX, dynamodb_client, store_error

__all__ = ["backfill_day", "create_table", "main"]

_KEY_SCHEMA = [
    {"AttributeName": "user_id", "KeyType": "HASH"},
    {"AttributeName": "request_time", "KeyType": "RANGE"},
]
_ATTRIBUTES = [
    {"AttributeName": "user_id", "AttributeType": "S"},
    {"AttributeName": "request_time", "AttributeType": "S"},
    {"AttributeName": "day", "AttributeType": "S"},
]
_INDEX: dict[str, Any] = {
    "IndexName": DAY_INDEX,
    "KeySchema": [
        {"AttributeName": "day", "KeyType": "HASH"},
        {"AttributeName": "request_time", "KeyType": "RANGE"},
    ],
    "Projection": {"ProjectionType": "ALL"},
}
# Table creation takes seconds; poll often enough that the command feels prompt.
_TABLE_WAITER = {"Delay": 2, "MaxAttempts": 150}


def _describe(client: Any, name: str) -> dict[str, Any] | None:
    try:
        return client.describe_table(TableName=name)["Table"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None
        raise


def _index_status(table: dict[str, Any]) -> str | None:
    for index in table.get("GlobalSecondaryIndexes", []):
        if index["IndexName"] == DAY_INDEX:
            return str(index.get("IndexStatus", "ACTIVE"))
    return None


def _wait_for_index(
    client: Any, name: str, *, delay: float = 10.0, timeout: float = 3600.0
) -> None:
    """botocore has no waiter for a GSI; building one over a large table can take long."""
    deadline = time.monotonic() + timeout
    while True:
        table = _describe(client, name) or {}
        status = _index_status(table)
        if status == "ACTIVE":
            return
        if time.monotonic() > deadline:
            raise StoreError(
                f"index {DAY_INDEX!r} of {name!r} is still {status}; run the command again "
                "to keep waiting"
            )
        print(f"waiting for index {DAY_INDEX!r} of {name!r} ({status})...", flush=True)
        time.sleep(delay)


def create_table(client: Any, name: str, *, index_delay: float = 10.0) -> bool:
    """Make ``name`` exist with its ``by_day`` index, waiting until usable; True if created."""
    table = _describe(client, name)
    if table is None:
        try:
            client.create_table(
                TableName=name,
                KeySchema=_KEY_SCHEMA,
                AttributeDefinitions=_ATTRIBUTES,
                GlobalSecondaryIndexes=[_INDEX],
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
    table = _describe(client, name) or {}
    if _index_status(table) is None:
        index = dict(_INDEX)
        billing = table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED")
        if billing == "PROVISIONED":
            # A provisioned table's index needs its own capacity: mirror the table's.
            throughput = table.get("ProvisionedThroughput", {})
            index["ProvisionedThroughput"] = {
                "ReadCapacityUnits": throughput.get("ReadCapacityUnits") or 5,
                "WriteCapacityUnits": throughput.get("WriteCapacityUnits") or 5,
            }
        client.update_table(
            TableName=name,
            AttributeDefinitions=_ATTRIBUTES,
            GlobalSecondaryIndexUpdates=[{"Create": index}],
        )
        print(f"adding index {DAY_INDEX!r} to {name!r}...", flush=True)
    _wait_for_index(client, name, delay=index_delay)
    return False


def backfill_day(client: Any, name: str) -> int:
    """Set ``day`` on items of the original system; the number of items updated.

    The one Scan in the project: a one-off admin pass over a legacy table.
    """
    paginator = client.get_paginator("scan")
    updated = skipped = 0
    for page in paginator.paginate(
        TableName=name,
        ProjectionExpression="#u, #t",
        FilterExpression="attribute_not_exists(#d) AND #t <> :marker",
        ExpressionAttributeNames={"#u": "user_id", "#t": "request_time", "#d": "day"},
        ExpressionAttributeValues={":marker": {"S": CHAT_START_KEY}},
    ):
        for item in page.get("Items", []):
            request_time = item["request_time"]["S"]
            try:
                day = parse_request_time(request_time).strftime("%Y-%m-%d")
            except ValueError:
                skipped += 1
                print(f"skipped {item['user_id']['S']!r} {request_time!r}: not a time")
                continue
            try:
                client.update_item(
                    TableName=name,
                    Key={"user_id": item["user_id"], "request_time": item["request_time"]},
                    UpdateExpression="SET #d = :d",
                    # Deleted since the scan: do not bring it back as a stub.
                    ConditionExpression="attribute_exists(#u)",
                    ExpressionAttributeNames={"#d": "day", "#u": "user_id"},
                    ExpressionAttributeValues={":d": {"S": day}},
                )
            except ClientError as error:
                if error.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                    raise
                continue
            updated += 1
    if skipped:
        print(f"{skipped} items have a request_time that is not a time; left without a day")
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
    args = parser.parse_args(argv)
    try:
        name = args.table or Settings.load().chat_history_table
    except ConfigError as error:
        parser.error(str(error))
    if not name:
        parser.error("no table: pass --table or set CHAT_HISTORY_TABLE")
    try:
        client = dynamodb_client(args.region, user_agent=ADMIN_USER_AGENT)
        if create_table(client, name):
            print(f"created table {name!r} with index {DAY_INDEX!r} (on-demand billing)")
        else:
            print(f"table {name!r} exists with index {DAY_INDEX!r}")
        if args.backfill_day:
            count = backfill_day(client, name)
            print(f"set day on {count} items of {name!r}")
    except (ClientError, BotoCoreError) as error:
        print(store_error(error, name, "setting up the table"), file=sys.stderr)
        return 1
    except StoreError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
