"""The DynamoDB store: one item per dialog in the original system's table, readable both ways.

Table: partition key ``user_id`` (S), sort key ``request_time`` (S), and three sparse global
secondary indexes, each holding only the items that have its key attributes:

- ``by_day`` (``day`` S, ``request_time`` S): dialogs, for the analysts' date ranges;
- ``by_conversation`` (``conversation_id`` S, ``request_time`` S): dialogs, so opening a
  conversation reads only its dialogs (a random id per conversation: no hot partition);
- ``by_user_updated`` (``user_id`` S, ``updated`` S): conversation summaries, so a user's
  list is read newest first, a page at a time, without reading any dialog.

A user's other items live in the user's partition under sort keys starting with ``!``, which
sorts before every digit, so time-range queries never see them: the "new chat" marker
(``!chat-start``) and one summary per conversation (``!conv#<id>``: title, its time,
``updated``). They carry neither ``day`` nor ``conversation_id``, so only the index meant
for them sees them.

The History page's rollups (``chatbot.rollups``) live in the same table, one partition per
report day, ``!rollup#2026-11-25``: a ``!cell#<JSON of the cell's other fields>`` item per
cell and a ``!slice#<JSON of user, mode, model>`` item per slice, each counter a number
attribute of its own name (``dialogs``, ``ttft:57``, ...), and in a slice ``conv#<id>``, the
number of its dialogs in that conversation (a counter, not a set: a dialog leaving is then
exact whatever else happens to its conversation). No user id is such a key: typed ids have
no ``!`` (``identity.valid_local_user_id``), e-mail ids an ``@`` and subject ids begin with
their issuer's URL (``identity.signed_in_identity``). Rollup items, like the user's ``!``
items, have neither ``day``, ``conversation_id`` nor ``updated``: no index sees them.

Every change of a dialog is one ``TransactWriteItems``: the dialog's Put (or Delete, or the
rating's Update), conditioned on the revision (``rev``, random) it was read at, and an ``ADD``
per rollup item of ``rollups.delta``. A change that lost a race is read again and retried;
writing a dialog again unchanged (a retry, an outbox replay) adds nothing and sends no
transaction. A year of the page's charts is then a Query per day of a few dozen items.

The endpoint comes from boto3's chain (``AWS_ENDPOINT_URL_DYNAMODB``), never from here.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chatbot import aws, rollups
from chatbot.rollups import Cell, CellFilter, Delta, Slice, UserRollup
from chatbot.store.base import (
    FIELDS,
    RENAMED,
    Conversation,
    ConversationPage,
    Dialog,
    DialogPage,
    DialogQuery,
    MissingConversation,
    MissingDialog,
    Rating,
    ReadStats,
    RejectedDialog,
    SearchResults,
    Status,
    StoreError,
    conversation_of,
    conversation_title,
    in_range,
    key_bound,
    search_terms,
    time_key,
)

__all__ = [
    "CHAT_START_KEY",
    "CONVERSATION_INDEX",
    "CREATE_COMMAND",
    "DAY_INDEX",
    "RECENT_INDEX",
    "ROLLUP_PREFIX",
    "SUMMARY_PREFIX",
    "DynamoStore",
    "condition_failed",
    "dynamodb_client",
    "rollup_items",
    "store_error",
]

DAY_INDEX = "by_day"
CONVERSATION_INDEX = "by_conversation"
RECENT_INDEX = "by_user_updated"
CHAT_START_KEY = "!chat-start"
SUMMARY_PREFIX = "!conv#"
CREATE_COMMAND = "python -m chatbot.store.create_table"
# A search reads at most this many of the user's newest dialogs (DynamoDB has no text
# index; each read is billed), a page of _SEARCH_PAGE at a time.
SEARCH_READ_LIMIT = 2000
_SEARCH_PAGE = 500
_KEY_FIELDS = ("user_id", "request_time")
_RATING_FIELDS = ("feedback", "feedback_reason", "feedback_comment")  # a Rating's, in order
# Fields a legacy item may lack although Dialog requires them: read as empty, not a crash.
_REQUIRED_TEXT = ("request_id", "type", "body", "msg")
_BATCH_SIZE = 25  # BatchWriteItem's limit
_UNPROCESSED_ATTEMPTS = 8
_UNPROCESSED_BASE_DELAY_S = 0.05
# Rollups: a report day's partition, its items' sort keys, a slice's conversation counters.
ROLLUP_PREFIX = "!rollup#"
_CELL_PREFIX = "!cell#"
_SLICE_PREFIX = "!slice#"
_CONVERSATION_COUNT = "conv#"
_ROLLUP_READERS = 8  # days read at once: a year of charts is 365 small Queries
REVISION = "rev"  # a random token per write of a dialog: its transaction's condition
# A transaction holds at most 100 items: 25 deletes touch at most 25 cells and 25 slices.
_DELETES_PER_TRANSACTION = 25
# A change that lost a race (its dialog changed since read, or another transaction held a
# rollup item) is read and sent again this many times in all, after a short random pause.
_WRITE_ATTEMPTS = 6
_RETRY_BASE_DELAY_S = 0.02
_RETRIED_REASONS = frozenset(
    {
        "ConditionalCheckFailed",
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
    }
)
# Why DynamoDB refused the dialog itself in a transaction (too large, an invalid value).
_REJECTED_REASONS = frozenset({"ValidationError", "ItemCollectionSizeLimitExceeded"})
# The analysts' table reads at most this many dialogs per page (a rare filter, a long range).
PAGE_READ_BUDGET = 5000

_serializer = TypeSerializer()


# A page run waits on the calls it makes, so they get a short budget: an outage costs a page
# about a second, not botocore's long back-off. The outbox's writer thread and the admin
# command, which nobody waits on, keep the patient retries that ride out throttling.
_RETRIES = {
    True: {"mode": "adaptive", "max_attempts": 10},  # retries: 11 attempts in all
    False: {"mode": "adaptive", "total_max_attempts": 2},
}
_CONNECT_TIMEOUT_S = {True: 5, False: 2}


def dynamodb_client(
    region: str | None = None, *, user_agent: str = aws.USER_AGENT, patient: bool = True
) -> Any:
    """A low-level ``dynamodb`` client; region from ``aws.region`` (``region``, ``AWS_REGION``,
    boto3's chain), endpoint from boto3's chain. The create-table command passes its own
    ``user_agent``, so that its calls are told from the app's.

    Adaptive retries: throttled calls back off inside botocore, many times when ``patient``,
    once when not (for calls a page run waits on).
    """
    config = Config(
        retries=_RETRIES[patient],
        connect_timeout=_CONNECT_TIMEOUT_S[patient],
        read_timeout=20,
        user_agent_extra=user_agent,
    )
    # A session per client: boto3's default session is not safe to build clients from
    # several threads at once.
    return boto3.session.Session().client("dynamodb", region_name=aws.region(region), config=config)


# Errors about the item itself (too large, an invalid value): sending it again cannot succeed.
_REJECTED = frozenset({"ValidationException", "ItemCollectionSizeLimitExceededException"})
_THROTTLED = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def store_error(error: Exception, table: str, action: str) -> StoreError:
    """A StoreError with AWS's error code, the table and what to do, in the app's own words.

    AWS's free-text message is read to classify, never repeated: an AccessDenied message
    names the account and the caller's ARN, and a StoreError's text reaches the page.
    """
    if isinstance(error, ClientError):
        info = error.response.get("Error", {})
        code = info.get("Code", "ClientError")
        message = info.get("Message", "")
        operation = error.operation_name
        # AWS says ValidationException for a missing index, moto ResourceNotFoundException.
        if code in ("ValidationException", "ResourceNotFoundException") and DAY_INDEX in message:
            return StoreError(
                f"DynamoDB table {table!r} has no {DAY_INDEX!r} index ({code}, {action}): add it "
                f"with `{CREATE_COMMAND} --table {table}`"
            )
        if code == "ResourceNotFoundException":
            return StoreError(
                f"DynamoDB table {table!r} does not exist ({code}, {action}): create it with "
                f"`{CREATE_COMMAND} --table {table}`"
            )
        if code == "AccessDeniedException":
            where = f"table {table!r}"
            if operation == "Query":  # browsing all users reads the index, a resource of its own
                where += f" (and its index {table}/index/{DAY_INDEX} to browse)"
            permission = f"dynamodb:{operation}"
            if operation == "TransactWriteItems":  # IAM authorises each of its operations
                permission = "dynamodb:PutItem, UpdateItem or DeleteItem"
            return StoreError(
                f"DynamoDB access denied ({code}, {action}): the credentials lack the "
                f"{permission} permission on {where}; grant it in their IAM policy"
            )
        if code in _THROTTLED:
            return StoreError(
                f"DynamoDB is throttling table {table!r} ({code}, {action}) even after retries: "
                "try again in a moment, or raise the table's capacity"
            )
        if code == "TransactionCanceledException":  # the codes say which item and why
            reasons = ", ".join(_cancellation_reasons(error))
            return StoreError(f"DynamoDB table {table!r}: {action} failed with {code} ({reasons})")
        return StoreError(f"DynamoDB table {table!r}: {action} failed with {code}")
    return StoreError(f"DynamoDB table {table!r}: {action} failed: {error}")


def _cancellation_reasons(error: ClientError) -> list[str]:
    """A cancelled transaction's reason per item, in the order sent ("None": that item was fine)."""
    return [reason.get("Code", "None") for reason in error.response.get("CancellationReasons", [])]


def _serialize(dialog: Dialog) -> dict[str, Any]:
    item: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(dialog, name)
        if value is None:
            continue  # absent, not NULL: the original's items have no such attributes either
        item[name] = _serializer.serialize(str(value) if isinstance(value, str) else value)
    item["day"] = {"S": dialog.day}
    return item


def _deserialize(item: dict[str, Any]) -> Dialog:
    # Every attribute is a string or a whole number, so the general TypeDeserializer (a
    # Decimal per number, a dispatch per attribute) is not needed: it was a quarter of the
    # client's time on a 10,000-item History load.
    values: dict[str, Any] = {}
    for name in FIELDS:
        attribute = item.get(name)
        if attribute is None or "NULL" in attribute:
            continue
        values[name] = attribute["S"] if "S" in attribute else int(attribute["N"])
    for name in _REQUIRED_TEXT:
        values.setdefault(name, "")
    dialog = Dialog(**values)  # a missing status is the Dialog default: complete
    if dialog.conversation_id is None:  # an item not yet grouped by --backfill-conversations
        return dialog._replace(conversation_id=conversation_of(dialog))
    return dialog


def _summary_key(user_id: str, conversation_id: str) -> dict[str, Any]:
    return {"user_id": {"S": user_id}, "request_time": {"S": SUMMARY_PREFIX + conversation_id}}


def _conversation_query(user_id: str, conversation_id: str) -> dict[str, Any]:
    """A conversation's dialogs through its index, only if they are the user's: ids are
    random, and the filter makes a guessed one return nothing."""
    return dict(
        IndexName=CONVERSATION_INDEX,
        KeyConditionExpression="#c = :c",
        FilterExpression="#u = :u",
        ExpressionAttributeNames={"#c": "conversation_id", "#u": "user_id"},
        ExpressionAttributeValues={":c": {"S": conversation_id}, ":u": {"S": user_id}},
    )


def condition_failed(error: ClientError) -> bool:
    """Whether a conditional write was refused because its condition did not hold."""
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _days(since: datetime, until: datetime) -> list[str]:
    """The UTC days that overlap ``[since, until)``."""
    if until <= since:
        return []
    first: date = since.astimezone(UTC).date()
    last: date = (until - timedelta(microseconds=1)).astimezone(UTC).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def _key(item: dict[str, Any]) -> dict[str, Any]:
    return {name: item[name] for name in _KEY_FIELDS}


def _rollup_key(day: str, prefix: str, fields: Iterable[str]) -> tuple[str, str]:
    """A rollup item's partition and sort key: JSON keeps any text in a field unambiguous."""
    return ROLLUP_PREFIX + day, prefix + json.dumps(list(fields), ensure_ascii=False)


def _rollup_fields(item: dict[str, Any], prefix: str) -> list[str]:
    """The day and the other fields of a rollup item's key."""
    day = item["user_id"]["S"].removeprefix(ROLLUP_PREFIX)
    return [day, *json.loads(item["request_time"]["S"].removeprefix(prefix))]


def _counters(item: dict[str, Any]) -> Counter[str]:
    """A rollup item's nonzero counters (every number attribute is one)."""
    return Counter(
        {name: int(value["N"]) for name, value in item.items() if value.get("N", "0") != "0"}
    )


RollupKey = tuple[str, str]  # a rollup item's partition and sort key


def _rollup_changes(deltas: Iterable[Delta]) -> dict[RollupKey, Counter[str]]:
    """What ``deltas`` add to each rollup item, summed per item (a transaction may touch an
    item once), zeros left out. From nothing, the rollups of those dialogs."""
    changes: dict[RollupKey, Counter[str]] = {}
    for change in deltas:
        for cell, counts in change.cells.items():
            key = _rollup_key(cell.day, _CELL_PREFIX, cell[1:])
            changes.setdefault(key, Counter()).update(counts)
        for part, counts in change.slices.items():
            key = _rollup_key(part.day, _SLICE_PREFIX, part[1:])
            changes.setdefault(key, Counter()).update(counts)
        for moves, sign in ((change.joined, 1), (change.left, -1)):
            for part, conversation_id in moves.items():
                key = _rollup_key(part.day, _SLICE_PREFIX, part[1:])
                changes.setdefault(key, Counter())[_CONVERSATION_COUNT + conversation_id] += sign
    nonzero = {
        key: Counter({n: v for n, v in counts.items() if v}) for key, counts in changes.items()
    }
    return {key: counts for key, counts in nonzero.items() if counts}


def rollup_items(dialogs: Iterable[Dialog], timezone: ZoneInfo) -> list[dict[str, Any]]:
    """The rollup items of ``dialogs``, counts whole, as a recount writes them (also for a
    bench that loads dialogs with BatchWriteItem)."""
    return [
        {
            "user_id": {"S": partition},
            "request_time": {"S": sort},
            **{name: {"N": str(value)} for name, value in counts.items()},
        }
        for (partition, sort), counts in _rollup_changes(
            rollups.delta(None, dialog, timezone) for dialog in dialogs
        ).items()
    ]


class _Stored(NamedTuple):
    """A dialog's item as read (None: there was none) and the key it has or would have."""

    key: dict[str, Any]
    item: dict[str, Any] | None

    @property
    def dialog(self) -> Dialog | None:
        return None if self.item is None else _deserialize(self.item)

    def unchanged(self) -> dict[str, Any]:
        """A write's condition that the item is still as read: absent, at its revision, or
        still without one (written before revisions)."""
        if self.item is None:
            return dict(
                ConditionExpression="attribute_not_exists(#u)",
                ExpressionAttributeNames={"#u": "user_id"},
            )
        revision = self.item.get(REVISION)
        if revision is None:
            return dict(
                ConditionExpression="attribute_exists(#u) AND attribute_not_exists(#rev)",
                ExpressionAttributeNames={"#u": "user_id", "#rev": REVISION},
            )
        return dict(
            ConditionExpression="#rev = :rev",
            ExpressionAttributeNames={"#rev": REVISION},
            ExpressionAttributeValues={":rev": revision},
        )


def _unrevised(item: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in item.items() if name != REVISION}


def _new_revision() -> dict[str, Any]:
    return {"S": uuid.uuid4().hex[:16]}


# How a dialog's attribute reads when absent, and which stored values a filter's value
# stands for, as rollups.contribution values them ("" mode is "normal", no model is "").
_FILTERED = (
    ("mode", "modes", "normal"),
    ("model_id", "models", ""),
    ("status", "statuses", Status.COMPLETE),
    ("type", "types", ""),
    ("feedback", "feedbacks", ""),
)


def _page_filter(
    wanted: CellFilter, text: str, names: dict[str, str]
) -> tuple[list[str], dict[str, Any]]:
    """FilterExpression conditions for a page's filters and words, and their values;
    ``names`` maps each field to its placeholder."""
    conditions: list[str] = []
    values: dict[str, Any] = {}
    for field, dimension, absent in _FILTERED:
        chosen = set(getattr(wanted, dimension))
        if not chosen:
            continue
        stored = chosen | ({""} if field == "mode" and "normal" in chosen else set())
        placeholders = []
        for value in sorted(stored):
            placeholders.append(f":v{len(values)}")
            values[placeholders[-1]] = {"S": value}
        options = [f"{names[field]} IN ({', '.join(placeholders)})"]
        if absent in chosen:
            options.append(f"attribute_not_exists({names[field]})")
        conditions.append(f"({' OR '.join(options)})")
    for index, term in enumerate(search_terms(text)):
        values[f":w{index}"] = {"S": term}
        conditions.append(
            f"(contains({names['body']}, :w{index}) OR contains({names['msg']}, :w{index}))"
        )
    return conditions, values


def _placeholders(*, with_document: bool) -> dict[str, str]:
    """A placeholder per dialog field to read: ``document_text`` only when asked for, being
    long, and neither shown in the table nor counted."""
    fields = [f for f in FIELDS if with_document or f != "document_text"]
    return {field: f"#f{index}" for index, field in enumerate(fields)}


def _names(placeholders: dict[str, str]) -> dict[str, str]:
    """ExpressionAttributeNames for ``_placeholders``."""
    return {placeholder: field for field, placeholder in placeholders.items()}


def _shortened(dialog: Dialog, chars: int | None) -> Dialog:
    if chars is None:
        return dialog
    return dialog._replace(body=dialog.body[:chars], msg=dialog.msg[:chars])


def _rejected(error: ClientError) -> bool:
    """Whether DynamoDB refused the dialog itself (a transaction's first item)."""
    if error.response.get("Error", {}).get("Code") in _REJECTED:
        return True
    reasons = _cancellation_reasons(error)
    return bool(reasons) and reasons[0] in _REJECTED_REASONS


def _pause(attempt: int) -> None:
    """None before a first attempt; then a random pause, doubling, so that writers that
    collided do not collide again."""
    if attempt:
        time.sleep(random.uniform(0, _RETRY_BASE_DELAY_S * 2**attempt))


class DynamoStore:
    """Dialogs in a DynamoDB table. boto3 clients are thread-safe: one serves every session.

    ``report_timezone``: the days of the rollups (``CHAT_REPORT_TIMEZONE``); changing it
    needs ``create_table --recount-rollups`` over the days kept.
    """

    def __init__(
        self,
        table_name: str,
        *,
        region: str | None = None,
        client: Any | None = None,
        patient: bool = True,
        report_timezone: ZoneInfo = ZoneInfo(rollups.DEFAULT_REPORT_TIMEZONE),  # noqa: B008
    ) -> None:
        self.table_name = table_name
        self.report_timezone = report_timezone
        try:
            self.client = client if client is not None else dynamodb_client(region, patient=patient)
        except BotoCoreError as error:  # e.g. no region configured
            raise store_error(error, table_name, "building the client") from error

    @contextmanager
    def _errors(self, action: str) -> Iterator[None]:
        try:
            yield
        except (ClientError, BotoCoreError) as error:
            raise store_error(error, self.table_name, action) from error

    def _pages(self, **kwargs: Any) -> Iterator[list[dict[str, Any]]]:
        """The items of every page of a Query: LastEvaluatedKey is followed, never dropped."""
        paginator = self.client.get_paginator("query")
        for page in paginator.paginate(TableName=self.table_name, **kwargs):
            yield page.get("Items", [])

    def put(self, dialog: Dialog) -> None:
        dialog = dialog._replace(conversation_id=conversation_of(dialog))
        wanted = _serialize(dialog)

        def change(stored: _Stored) -> tuple[dict[str, Any], Dialog] | None:
            if stored.item is not None and _unrevised(stored.item) == wanted:
                return None  # a retry or a replay: nothing to change or count
            item = {**wanted, REVISION: _new_revision()}
            put = {"TableName": self.table_name, "Item": item, **stored.unchanged()}
            return {"Put": put}, dialog

        key = {"user_id": wanted["user_id"], "request_time": wanted["request_time"]}
        try:
            self._change(key, change)
            self.write_summary(dialog)
        except ClientError as error:
            problem = store_error(error, self.table_name, "writing a dialog")
            if _rejected(error):
                raise RejectedDialog(str(problem)) from error
            raise problem from error
        except BotoCoreError as error:
            raise store_error(error, self.table_name, "writing a dialog") from error

    def set_feedback(self, user_id: str, request_time: str, rating: Rating) -> None:
        def change(stored: _Stored) -> tuple[dict[str, Any], Dialog] | None:
            old = stored.dialog
            if old is None:
                raise MissingDialog(
                    f"DynamoDB table {self.table_name!r}: no dialog of this user at "
                    f"{request_time!r} to rate"
                )
            new = old._replace(
                feedback=rating.feedback,
                feedback_reason=rating.reason,
                feedback_comment=rating.comment,
            )
            if new == old:
                return None
            # An update, not a Put: the item keeps whatever else it has.
            names, values = {"#rev": REVISION}, {":next": _new_revision()}
            sets, removes = ["#rev = :next"], []
            for index, (name, value) in enumerate(zip(_RATING_FIELDS, rating, strict=True)):
                names[f"#r{index}"] = name
                if value is None:
                    removes.append(f"#r{index}")
                else:
                    sets.append(f"#r{index} = :r{index}")
                    values[f":r{index}"] = {"S": value}
            update = f"SET {', '.join(sets)}" + (f" REMOVE {', '.join(removes)}" if removes else "")
            condition = stored.unchanged()
            names.update(condition.pop("ExpressionAttributeNames"))
            values.update(condition.pop("ExpressionAttributeValues", {}))
            return {
                "Update": {
                    "TableName": self.table_name,
                    "Key": stored.key,
                    "UpdateExpression": update,
                    "ExpressionAttributeNames": names,
                    "ExpressionAttributeValues": values,
                    **condition,
                }
            }, new

        key = {"user_id": {"S": user_id}, "request_time": {"S": request_time}}
        with self._errors("recording feedback"):
            self._change(key, change)

    def _read(self, key: dict[str, Any]) -> _Stored:
        reply = self.client.get_item(TableName=self.table_name, Key=key, ConsistentRead=True)
        return _Stored(key, reply.get("Item"))

    def _change(
        self,
        key: dict[str, Any],
        change: Callable[[_Stored], tuple[dict[str, Any], Dialog] | None],
    ) -> None:
        """Read a dialog, and write what ``change`` makes of it (an operation on the dialog
        and the dialog after it; None: nothing to write) with its rollups' delta, in one
        transaction; again from the read if the dialog changed meanwhile."""
        lost: list[str] = []
        for attempt in range(_WRITE_ATTEMPTS):
            _pause(attempt)
            stored = self._read(key)
            planned = change(stored)
            if planned is None:
                return
            operation, new = planned
            changes = _rollup_changes([rollups.delta(stored.dialog, new, self.report_timezone)])
            if not (lost := self._transact([operation, *self._adds(changes)])):
                return
        raise self._contended("writing a dialog", lost)

    def _adds(self, changes: dict[RollupKey, Counter[str]]) -> list[dict[str, Any]]:
        """An ``ADD`` of its counters per rollup item, as transaction operations."""
        operations = []
        for (partition, sort), counts in changes.items():
            names = {f"#a{i}": name for i, name in enumerate(counts)}
            values = {f":a{i}": {"N": str(value)} for i, value in enumerate(counts.values())}
            operations.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": {"user_id": {"S": partition}, "request_time": {"S": sort}},
                        "UpdateExpression": "ADD "
                        + ", ".join(f"#a{i} :a{i}" for i in range(len(counts))),
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values,
                    }
                }
            )
        return operations

    def _transact(self, operations: list[dict[str, Any]]) -> list[str]:
        """Send one transaction; when it lost a race (a dialog changed since it was read,
        another transaction held an item, throttling) and is to be read and sent again, why
        (the cancellation reasons), else nothing."""
        try:
            self.client.transact_write_items(TransactItems=operations)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = _cancellation_reasons(error)
            if not _RETRIED_REASONS & set(reasons):
                raise
            return reasons
        return []

    def _contended(self, action: str, reasons: list[str]) -> StoreError:
        return StoreError(
            f"DynamoDB table {self.table_name!r}: {action} failed {_WRITE_ATTEMPTS} times: "
            f"other writes kept changing its items, or DynamoDB throttled them "
            f"({', '.join(reasons)}); try again in a moment"
        )

    def _delete_dialogs(self, items: list[dict[str, Any]]) -> int:
        """Delete dialogs as read, with their rollups, a transaction per 25; how many were
        deleted (one deleted meanwhile is not counted)."""
        deleted = 0
        for start in range(0, len(items), _DELETES_PER_TRANSACTION):
            chunk = [
                _Stored(_key(item), item)
                for item in items[start : start + _DELETES_PER_TRANSACTION]
            ]
            deleted += self._delete_chunk(chunk)
        return deleted

    def _delete_chunk(self, chunk: list[_Stored]) -> int:
        lost: list[str] = []
        for attempt in range(_WRITE_ATTEMPTS):
            if attempt:  # something changed: read each again, strongly
                _pause(attempt)
                chunk = [read for read in map(self._read, (s.key for s in chunk)) if read.item]
            if not chunk:
                return 0
            deletes = [
                {"Delete": {"TableName": self.table_name, "Key": s.key, **s.unchanged()}}
                for s in chunk
            ]
            deltas = (rollups.delta(s.dialog, None, self.report_timezone) for s in chunk)
            if not (lost := self._transact(deletes + self._adds(_rollup_changes(deltas)))):
                return len(chunk)
        raise self._contended("deleting dialogs", lost)

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        """Send write requests (puts, deletes) 25 at a time, re-sending what DynamoDB left
        unprocessed until none remain."""
        for start in range(0, len(requests), _BATCH_SIZE):
            self._write_batch(requests[start : start + _BATCH_SIZE])

    def _write_batch(self, batch: list[dict[str, Any]]) -> None:
        requests: dict[str, list[dict[str, Any]]] = {self.table_name: batch}
        for attempt in range(_UNPROCESSED_ATTEMPTS):
            if attempt:
                # Unprocessed items are capacity pushback that botocore does not retry.
                time.sleep(min(_UNPROCESSED_BASE_DELAY_S * 2**attempt, 5.0))
            reply = self.client.batch_write_item(RequestItems=requests)
            requests = reply.get("UnprocessedItems") or {}
            if not requests:
                return
        left = sum(len(batch) for batch in requests.values())
        raise StoreError(
            f"DynamoDB table {self.table_name!r}: {left} writes still unprocessed after "
            f"{_UNPROCESSED_ATTEMPTS} attempts; the table is throttling, try again later"
        )

    def write_summary(self, dialog: Dialog) -> None:
        """Bring the summary of the dialog's conversation up to it: the newest ``updated``,
        the title of the earliest question unless renamed. One write for a dialog written in
        order; one more for a late one, which may hold the first question."""
        key = _summary_key(dialog.user_id, conversation_of(dialog))
        names = {"#upd": "updated", "#title": "title", "#tt": "title_time"}
        values = {
            ":t": {"S": dialog.request_time},
            ":title": {"S": conversation_title(dialog.type, dialog.body)},
        }
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression=(
                    "SET #upd = :t, #title = if_not_exists(#title, :title), "
                    "#tt = if_not_exists(#tt, :t)"
                ),
                ConditionExpression="attribute_not_exists(#upd) OR #upd <= :t",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
            return
        except ClientError as error:
            if not condition_failed(error):
                raise
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=key,
                UpdateExpression="SET #title = :title, #tt = :t",
                ConditionExpression="#tt > :t",  # a rename's "!" is never later
                ExpressionAttributeNames={"#title": "title", "#tt": "title_time"},
                ExpressionAttributeValues=values,
            )
        except ClientError as error:
            if not condition_failed(error):
                raise

    def conversations(
        self, user_id: str, limit: int, cursor: str | None = None
    ) -> ConversationPage:
        start: dict[str, Any] = {"ExclusiveStartKey": json.loads(cursor)} if cursor else {}
        with self._errors("listing conversations"):
            reply = self.client.query(
                TableName=self.table_name,
                IndexName=RECENT_INDEX,
                KeyConditionExpression="#u = :u",
                ExpressionAttributeNames={"#u": "user_id"},
                ExpressionAttributeValues={":u": {"S": user_id}},
                ScanIndexForward=False,
                Limit=limit,
                **start,
            )
        page = [
            Conversation(
                user_id,
                item["request_time"]["S"].removeprefix(SUMMARY_PREFIX),
                item["title"]["S"],
                item["updated"]["S"],
            )
            for item in reply.get("Items", [])
        ]
        last = reply.get("LastEvaluatedKey")
        return ConversationPage(page, json.dumps(last) if last else None)

    def conversation_dialogs(self, user_id: str, conversation_id: str) -> list[Dialog]:
        dialogs: list[Dialog] = []
        with self._errors("reading a conversation"):
            for items in self._pages(**_conversation_query(user_id, conversation_id)):
                dialogs.extend(_deserialize(item) for item in items)
        return dialogs

    def search(self, user_id: str, text: str, limit: int) -> SearchResults:
        """Reads the user's partition newest first, at most SEARCH_READ_LIMIT dialogs, and
        keeps those holding every word (DynamoDB's ``contains``: case-sensitive)."""
        terms = search_terms(text)
        if not terms:
            return SearchResults([], 0, complete=True)
        names = {"#u": "user_id", "#t": "request_time", "#b": "body", "#m": "msg"}
        names["#s"] = "superseded_by"
        values: dict[str, Any] = {":u": {"S": user_id}, ":first": {"S": "0"}}
        conditions = ["attribute_not_exists(#s)"]
        for index, term in enumerate(terms):
            values[f":w{index}"] = {"S": term}
            conditions.append(f"(contains(#b, :w{index}) OR contains(#m, :w{index}))")
        query: dict[str, Any] = dict(
            TableName=self.table_name,
            KeyConditionExpression="#u = :u AND #t >= :first",  # dialogs, not "!" items
            FilterExpression=" AND ".join(conditions),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ScanIndexForward=False,
        )
        found: list[Dialog] = []
        searched = 0
        with self._errors("searching dialogs"):
            while len(found) < limit and searched < SEARCH_READ_LIMIT:
                query["Limit"] = min(_SEARCH_PAGE, SEARCH_READ_LIMIT - searched)
                reply = self.client.query(**query)
                searched += reply.get("ScannedCount", 0)
                found.extend(_deserialize(item) for item in reply.get("Items", []))
                if "LastEvaluatedKey" not in reply:
                    return SearchResults(found[:limit], searched, complete=True)
                query["ExclusiveStartKey"] = reply["LastEvaluatedKey"]
        return SearchResults(found[:limit], searched, complete=False)

    def rename_conversation(self, user_id: str, conversation_id: str, title: str) -> None:
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key=_summary_key(user_id, conversation_id),
                UpdateExpression="SET #title = :title, #tt = :renamed",
                ConditionExpression="attribute_exists(#upd)",  # no stub for a missing one
                ExpressionAttributeNames={
                    "#title": "title",
                    "#tt": "title_time",
                    "#upd": "updated",
                },
                ExpressionAttributeValues={":title": {"S": title}, ":renamed": {"S": RENAMED}},
            )
        except ClientError as error:
            if condition_failed(error):
                raise MissingConversation(
                    f"DynamoDB table {self.table_name!r}: no such conversation"
                ) from error
            raise store_error(error, self.table_name, "renaming a conversation") from error
        except BotoCoreError as error:
            raise store_error(error, self.table_name, "renaming a conversation") from error

    def user_dialogs(
        self, user_id: str, since: datetime, until: datetime | None = None
    ) -> list[Dialog]:
        key = "#u = :u AND #t >= :lo"
        values = {":u": {"S": user_id}, ":lo": {"S": key_bound(since)}}
        if until is not None:
            key = "#u = :u AND #t BETWEEN :lo AND :hi"
            values[":hi"] = {"S": key_bound(until + timedelta(days=1))}
        dialogs: list[Dialog] = []
        with self._errors("reading a user's dialogs"):
            for items in self._pages(
                KeyConditionExpression=key,
                ExpressionAttributeNames={"#u": "user_id", "#t": "request_time"},
                ExpressionAttributeValues=values,
                ConsistentRead=True,  # a reload must see the turn just written
            ):
                dialogs.extend(_deserialize(item) for item in items)
        # The key range is by day; old-format keys sort differently within a day.
        since_key, until_key = time_key(since), time_key(until) if until else None
        return [d for d in dialogs if in_range(d.request_time, since_key, until_key)]

    def set_chat_start(self, user_id: str, at: datetime) -> None:
        with self._errors("recording a new chat"):
            self.client.put_item(
                TableName=self.table_name,
                Item={
                    "user_id": {"S": user_id},
                    "request_time": {"S": CHAT_START_KEY},
                    "started_at": {"S": at.astimezone(UTC).isoformat()},
                },
            )

    def chat_start(self, user_id: str) -> datetime | None:
        with self._errors("reading the chat start"):
            reply = self.client.get_item(
                TableName=self.table_name,
                Key={"user_id": {"S": user_id}, "request_time": {"S": CHAT_START_KEY}},
                ConsistentRead=True,
            )
        started = reply.get("Item", {}).get("started_at", {}).get("S")
        return datetime.fromisoformat(started) if started else None

    def delete_conversation(self, user_id: str, conversation_id: str) -> int:
        items: list[dict[str, Any]] = []
        with self._errors("listing a conversation's dialogs to delete"):
            for page in self._pages(**_conversation_query(user_id, conversation_id)):
                items.extend(page)
        with self._errors("deleting a conversation"):
            deleted = self._delete_dialogs(items)
            # Last: the list shows the conversation until its dialogs are gone.
            self._batch_write([{"DeleteRequest": {"Key": _summary_key(user_id, conversation_id)}}])
        return deleted

    def delete_user(self, user_id: str) -> int:
        dialogs: list[dict[str, Any]] = []
        others: list[dict[str, Any]] = []  # the marker and summaries, under "!"
        with self._errors("listing a user's items to delete"):
            for page in self._pages(
                KeyConditionExpression="#u = :u",
                ExpressionAttributeNames={"#u": "user_id"},
                ExpressionAttributeValues={":u": {"S": user_id}},
                ConsistentRead=True,
            ):
                for item in page:
                    is_dialog = not item["request_time"]["S"].startswith("!")
                    (dialogs if is_dialog else others).append(item)
        with self._errors("deleting a user's items"):
            deleted = self._delete_dialogs(dialogs)
            self._batch_write([{"DeleteRequest": {"Key": _key(item)}} for item in others])
        return deleted

    def dialog(self, user_id: str, request_time: str) -> Dialog | None:
        if request_time.startswith("!"):  # a marker, summary or rollup, not a dialog
            return None
        key = {"user_id": {"S": user_id}, "request_time": {"S": request_time}}
        with self._errors("reading a dialog"):
            return self._read(key).dialog

    def dialog_page(
        self,
        query: DialogQuery,
        limit: int,
        cursor: str | None = None,
        text_chars: int | None = 120,
    ) -> DialogPage:
        """Newest first: one user's partition, or every user's dialogs a UTC day at a time
        through ``by_day``, filtered by DynamoDB (``contains``: case-sensitive). Reads at most
        PAGE_READ_BUDGET dialogs; with a rare filter the page may hold fewer than ``limit``
        and a cursor, the next page continuing where this one stopped."""
        placeholders = _placeholders(with_document=text_chars is None)
        conditions, values = _page_filter(query.filter, query.text, placeholders)
        common: dict[str, Any] = dict(
            ProjectionExpression=", ".join(placeholders.values()),
            ExpressionAttributeNames=_names(placeholders),
            ScanIndexForward=False,
        )
        if conditions:
            common["FilterExpression"] = " AND ".join(conditions)
        user, sort = placeholders["user_id"], placeholders["request_time"]
        parts: list[tuple[str, dict[str, Any]]]
        if query.user_id is not None:
            key = {
                ":u": {"S": query.user_id},
                ":lo": {"S": key_bound(query.since)},
                ":hi": {"S": key_bound(query.until + timedelta(days=1))},
            }
            parts = [
                (
                    "",
                    dict(
                        KeyConditionExpression=f"{user} = :u AND {sort} BETWEEN :lo AND :hi",
                        ExpressionAttributeValues={**values, **key},
                    ),
                )
            ]
        else:
            names = {**common["ExpressionAttributeNames"], "#day": "day"}
            parts = [
                (
                    day,
                    dict(
                        IndexName=DAY_INDEX,
                        KeyConditionExpression="#day = :day",
                        ExpressionAttributeNames=names,
                        ExpressionAttributeValues={**values, ":day": {"S": day}},
                    ),
                )
                for day in reversed(_days(query.since, query.until))
            ]
        with self._errors("reading the analysts' table"):
            return self._page(parts, common, query, limit, cursor, text_chars)

    def _page(
        self,
        parts: list[tuple[str, dict[str, Any]]],
        common: dict[str, Any],
        query: DialogQuery,
        limit: int,
        cursor: str | None,
        text_chars: int | None,
    ) -> DialogPage:
        """Read ``parts`` (each a label, "" or its day, and its Query) in turn, from where the
        cursor says: ``{"day": label, "key": the ExclusiveStartKey or null}``."""
        since, until = time_key(query.since), time_key(query.until)
        labels = [label for label, _ in parts]
        start = json.loads(cursor) if cursor else {"day": labels[0] if labels else "", "key": None}
        first = labels.index(start["day"]) if start["day"] in labels else len(parts)
        rows: list[Dialog] = []
        read = 0
        for number in range(first, len(parts)):
            label, part = parts[number]
            key = start["key"] if number == first else None
            while True:
                if read >= PAGE_READ_BUDGET:
                    return DialogPage(rows, json.dumps({"day": label, "key": key}), read)
                # A filter that passed few so far: ask for more per request, within the budget.
                wanted = (limit - len(rows)) * max(1, read // max(1, len(rows)))
                request = {**common, **part, "Limit": min(wanted, PAGE_READ_BUDGET - read)}
                if key is not None:
                    request["ExclusiveStartKey"] = key
                reply = self.client.query(TableName=self.table_name, **request)
                read += reply.get("ScannedCount", 0)
                items = reply.get("Items", [])
                key = reply.get("LastEvaluatedKey")
                for index, item in enumerate(items):
                    dialog = _deserialize(item)
                    if not in_range(dialog.request_time, since, until):
                        continue  # the range's first or last day, outside its hours
                    rows.append(_shortened(dialog, text_chars))
                    if len(rows) < limit:
                        continue
                    if index < len(items) - 1 or key is not None:  # the next page: after it
                        after = _key(item) | ({"day": {"S": label}} if label else {})
                        return DialogPage(rows, json.dumps({"day": label, "key": after}), read)
                    if number + 1 < len(parts):  # this part is done: the next from its top
                        return DialogPage(
                            rows, json.dumps({"day": labels[number + 1], "key": None}), read
                        )
                    return DialogPage(rows, None, read)
                if key is None:
                    break
        return DialogPage(rows, None, read)

    def rollup_cells(
        self, first_day: str, last_day: str
    ) -> tuple[dict[Cell, Counter[str]], ReadStats]:
        items, stats = self._rollup_items(first_day, last_day, _CELL_PREFIX)
        cells: dict[Cell, Counter[str]] = {}
        for item in items:
            counts = _counters(item)
            if counts[rollups.DIALOGS] > 0:  # a cell whose dialogs all left is no cell
                cells[Cell(*_rollup_fields(item, _CELL_PREFIX))] = counts
        return cells, stats

    def rollup_users(self, first_day: str, last_day: str) -> tuple[list[UserRollup], ReadStats]:
        items, stats = self._rollup_items(first_day, last_day, _SLICE_PREFIX)
        slices: dict[Slice, Counter[str]] = {}
        conversations: dict[Slice, set[str]] = {}
        for item in items:
            key = Slice(*_rollup_fields(item, _SLICE_PREFIX))
            counts = _counters(item)
            conversations[key] = {
                name.removeprefix(_CONVERSATION_COUNT)
                for name, value in counts.items()
                if name.startswith(_CONVERSATION_COUNT) and value > 0
            }
            slices[key] = Counter(
                {n: v for n, v in counts.items() if not n.startswith(_CONVERSATION_COUNT)}
            )
        return rollups.user_rollups(slices, conversations), stats

    def _rollup_items(
        self, first_day: str, last_day: str, prefix: str
    ) -> tuple[list[dict[str, Any]], ReadStats]:
        """The rollup items under ``prefix`` of each day, a Query per day, several at once."""

        def read(day: str) -> tuple[list[dict[str, Any]], int]:
            items: list[dict[str, Any]] = []
            pages = 0
            for page in self._pages(
                KeyConditionExpression="#u = :u AND begins_with(#t, :p)",
                ExpressionAttributeNames={"#u": "user_id", "#t": "request_time"},
                ExpressionAttributeValues={":u": {"S": ROLLUP_PREFIX + day}, ":p": {"S": prefix}},
            ):
                items.extend(page)
                pages += 1
            return items, pages

        days = rollups.days(date.fromisoformat(first_day), date.fromisoformat(last_day))
        items: list[dict[str, Any]] = []
        pages = 0
        with (
            self._errors("reading the rollups"),
            ThreadPoolExecutor(min(_ROLLUP_READERS, max(1, len(days)))) as pool,
        ):
            for day_items, day_pages in pool.map(read, days):
                items.extend(day_items)
                pages += day_pages
        return items, ReadStats(items=len(items), pages=pages)

    def recount(self, first_day: str, last_day: str) -> int:
        """Rebuild each day's rollups from its dialogs (read through ``by_day``: items of the
        original system need ``create_table --backfill-day`` first); how many dialogs.

        A day's new items are written before its stale ones are deleted, so a reader sees
        old or new counts, never none. A dialog written, rated or deleted while its day is
        recounted may be missed or counted twice: run it while the app is quiet, or again.
        """
        timezone = self.report_timezone
        counted = 0
        # The UTC days the last report day overlapped: the next report day shares one.
        read: dict[str, list[Dialog]] = {}
        with self._errors("recounting the rollups"):
            for day in rollups.days(date.fromisoformat(first_day), date.fromisoformat(last_day)):
                utc_days = _days(*rollups.day_bounds(day, day, timezone))
                read = {u: read[u] if u in read else self._utc_day(u) for u in utc_days}
                dialogs = [
                    dialog
                    for dialogs in read.values()
                    for dialog in dialogs
                    if rollups.report_day(dialog.request_time, timezone) == day
                ]
                self._replace_rollups(day, dialogs)
                counted += len(dialogs)
        return counted

    def _utc_day(self, day: str) -> list[Dialog]:
        """A UTC day's dialogs from ``by_day``, without their document text."""
        fields = _placeholders(with_document=False)
        dialogs: list[Dialog] = []
        for page in self._pages(
            IndexName=DAY_INDEX,
            KeyConditionExpression="#day = :day",
            ProjectionExpression=", ".join(fields.values()),
            ExpressionAttributeNames={**_names(fields), "#day": "day"},
            ExpressionAttributeValues={":day": {"S": day}},
        ):
            dialogs.extend(_deserialize(item) for item in page)
        return dialogs

    def _replace_rollups(self, day: str, dialogs: list[Dialog]) -> None:
        fresh = rollup_items(dialogs, self.report_timezone)
        keys = {(item["user_id"]["S"], item["request_time"]["S"]) for item in fresh}
        stale: list[dict[str, Any]] = []
        for page in self._pages(
            KeyConditionExpression="#u = :u",
            ProjectionExpression="#u, #t",
            ExpressionAttributeNames={"#u": "user_id", "#t": "request_time"},
            ExpressionAttributeValues={":u": {"S": ROLLUP_PREFIX + day}},
        ):
            stale.extend(
                item
                for item in page
                if (item["user_id"]["S"], item["request_time"]["S"]) not in keys
            )
        self._batch_write([{"PutRequest": {"Item": item}} for item in fresh])
        self._batch_write([{"DeleteRequest": {"Key": _key(item)}} for item in stale])
