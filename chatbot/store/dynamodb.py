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

The endpoint comes from boto3's chain (``AWS_ENDPOINT_URL_DYNAMODB``), never from here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chatbot import aws
from chatbot.store.base import (
    FIELDS,
    RENAMED,
    Conversation,
    ConversationPage,
    Dialog,
    MissingConversation,
    MissingDialog,
    Rating,
    ReadStats,
    RejectedDialog,
    SearchResults,
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
    "SUMMARY_PREFIX",
    "DynamoStore",
    "condition_failed",
    "dynamodb_client",
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
            return StoreError(
                f"DynamoDB access denied ({code}, {action}): the credentials lack the "
                f"dynamodb:{operation} permission on {where}; grant it in their IAM policy"
            )
        if code in _THROTTLED:
            return StoreError(
                f"DynamoDB is throttling table {table!r} ({code}, {action}) even after retries: "
                "try again in a moment, or raise the table's capacity"
            )
        return StoreError(f"DynamoDB table {table!r}: {action} failed with {code}")
    return StoreError(f"DynamoDB table {table!r}: {action} failed: {error}")


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


class DynamoStore:
    """Dialogs in a DynamoDB table. boto3 clients are thread-safe: one serves every session."""

    def __init__(
        self,
        table_name: str,
        *,
        region: str | None = None,
        client: Any | None = None,
        patient: bool = True,
    ) -> None:
        self.table_name = table_name
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
        try:
            self.client.put_item(TableName=self.table_name, Item=_serialize(dialog))
            self.write_summary(dialog)
        except ClientError as error:
            problem = store_error(error, self.table_name, "writing a dialog")
            if error.response.get("Error", {}).get("Code") in _REJECTED:
                raise RejectedDialog(str(problem)) from error
            raise problem from error
        except BotoCoreError as error:
            raise store_error(error, self.table_name, "writing a dialog") from error

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

    def delete_conversation(self, user_id: str, conversation_id: str) -> int:
        keys: list[dict[str, Any]] = []
        query = _conversation_query(user_id, conversation_id)
        query["ProjectionExpression"] = "#u, #t"
        query["ExpressionAttributeNames"]["#t"] = "request_time"
        with self._errors("listing a conversation's items to delete"):
            for items in self._pages(**query):
                keys.extend({name: item[name] for name in _KEY_FIELDS} for item in items)
        dialogs = len(keys)
        keys.append(_summary_key(user_id, conversation_id))  # last: the list shows it till then
        with self._errors("deleting a conversation"):
            for start in range(0, len(keys), _BATCH_SIZE):
                self._delete_batch(keys[start : start + _BATCH_SIZE])
        return dialogs

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

    def browse(
        self, since: datetime, until: datetime, user_id: str | None = None
    ) -> tuple[list[Dialog], ReadStats]:
        dialogs: list[Dialog] = []
        pages = 0
        with self._errors("browsing dialogs"):
            if user_id is not None:
                queries = [
                    dict(
                        KeyConditionExpression="#u = :u AND #t BETWEEN :lo AND :hi",
                        ExpressionAttributeNames={"#u": "user_id", "#t": "request_time"},
                        ExpressionAttributeValues={
                            ":u": {"S": user_id},
                            ":lo": {"S": key_bound(since)},
                            ":hi": {"S": key_bound(until + timedelta(days=1))},
                        },
                    )
                ]
            else:
                # One Query per day on the sparse index: cost follows the range, not the table.
                queries = [
                    dict(
                        IndexName=DAY_INDEX,
                        KeyConditionExpression="#d = :d",
                        ExpressionAttributeNames={"#d": "day"},
                        ExpressionAttributeValues={":d": {"S": day}},
                    )
                    for day in _days(since, until)
                ]
            for query in queries:
                for items in self._pages(**query):
                    pages += 1
                    dialogs.extend(_deserialize(item) for item in items)
        since_key, until_key = time_key(since), time_key(until)
        dialogs = [d for d in dialogs if in_range(d.request_time, since_key, until_key)]
        dialogs.sort(key=lambda d: (d.request_time, d.user_id))
        return dialogs, ReadStats(items=len(dialogs), pages=pages)

    def set_feedback(self, user_id: str, request_time: str, rating: Rating) -> None:
        names = {"#u": "user_id"}
        sets, removes, values = [], [], {}
        for index, (name, value) in enumerate(zip(_RATING_FIELDS, rating, strict=True)):
            names[f"#r{index}"] = name
            if value is None:
                removes.append(f"#r{index}")
            else:
                sets.append(f"#r{index} = :r{index}")
                values[f":r{index}"] = {"S": value}
        update = " ".join(
            f"{verb} {', '.join(parts)}"
            for verb, parts in (("SET", sets), ("REMOVE", removes))
            if parts
        )
        extra: dict[str, Any] = {"ExpressionAttributeValues": values} if values else {}
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"user_id": {"S": user_id}, "request_time": {"S": request_time}},
                UpdateExpression=update,
                # UpdateItem upserts: without this a stale rating would create a stub item.
                ConditionExpression="attribute_exists(#u)",
                ExpressionAttributeNames=names,
                **extra,
            )
        except ClientError as error:
            if condition_failed(error):
                raise MissingDialog(
                    f"DynamoDB table {self.table_name!r}: no dialog of this user at "
                    f"{request_time!r} to rate"
                ) from error
            raise store_error(error, self.table_name, "recording feedback") from error
        except BotoCoreError as error:
            raise store_error(error, self.table_name, "recording feedback") from error

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

    def delete_user(self, user_id: str) -> int:
        keys: list[dict[str, Any]] = []
        with self._errors("listing a user's items to delete"):
            for items in self._pages(
                KeyConditionExpression="#u = :u",
                ProjectionExpression="#u, #t",
                ExpressionAttributeNames={"#u": "user_id", "#t": "request_time"},
                ExpressionAttributeValues={":u": {"S": user_id}},
                ConsistentRead=True,
            ):
                keys.extend({name: item[name] for name in _KEY_FIELDS} for item in items)
        with self._errors("deleting a user's items"):
            for start in range(0, len(keys), _BATCH_SIZE):
                self._delete_batch(keys[start : start + _BATCH_SIZE])
        # Only dialogs count: the markers and summaries sort first, under "!".
        return sum(1 for key in keys if not key["request_time"]["S"].startswith("!"))

    def _delete_batch(self, keys: list[dict[str, Any]]) -> None:
        """Delete up to 25 items, re-sending what DynamoDB left unprocessed until none remain."""
        requests: dict[str, list[dict[str, Any]]] = {
            self.table_name: [{"DeleteRequest": {"Key": key}} for key in keys]
        }
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
            f"DynamoDB table {self.table_name!r}: {left} deletes still unprocessed after "
            f"{_UNPROCESSED_ATTEMPTS} attempts; the table is throttling, try again later"
        )
