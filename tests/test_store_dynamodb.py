"""What only the DynamoDB store has: its item layout, its table command, its error messages."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from streamlit.testing.v1 import AppTest

from chatbot.config import Settings
from chatbot.rollups import DEFAULT_REPORT_TIMEZONE, CellFilter, tally, user_rollups
from chatbot.store import dynamodb as dynamodb_module
from chatbot.store import open_store
from chatbot.store.base import Dialog, DialogQuery, Rating, RejectedDialog, StoreError
from chatbot.store.create_table import backfill_conversations, backfill_day, create_table, main
from chatbot.store.dynamodb import (
    CHAT_START_KEY,
    CONVERSATION_INDEX,
    DAY_INDEX,
    RECENT_INDEX,
    ROLLUP_PREFIX,
    DynamoStore,
    dynamodb_client,
)
from loopback.dynamodb import MotoDynamo
from tests.factories import NOW, make_dialog

SECRET = "wJalrXUtnFEMI-this-must-never-be-printed"


@pytest.fixture
def moto(moto_server: MotoDynamo, monkeypatch: pytest.MonkeyPatch) -> MotoDynamo:
    moto_server.reset()
    for name, value in moto_server.env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)  # moto accepts any secret
    return moto_server


@pytest.fixture
def client(moto: MotoDynamo) -> Any:
    """The tests' own client: its calls are not the app's (tests/test_iam_policy.py)."""
    return dynamodb_client(user_agent="tests")


@pytest.fixture
def store(client: Any) -> DynamoStore:
    name = f"dialogs-{uuid.uuid4().hex[:8]}"
    create_table(client, name)
    return DynamoStore(name)


def raw_item(store: DynamoStore, written: Dialog) -> dict[str, Any]:
    return store.client.get_item(
        TableName=store.table_name,
        Key={"user_id": {"S": written.user_id}, "request_time": {"S": written.request_time}},
    )["Item"]


def legacy_table(client: Any, name: str, billing: str) -> None:
    """The original system's table: the two keys, no index."""
    capacity: dict[str, Any] = (
        {"BillingMode": "PAY_PER_REQUEST"}
        if billing == "PAY_PER_REQUEST"
        else {"ProvisionedThroughput": {"ReadCapacityUnits": 3, "WriteCapacityUnits": 4}}
    )
    client.create_table(
        TableName=name,
        KeySchema=[
            {"AttributeName": "user_id", "KeyType": "HASH"},
            {"AttributeName": "request_time", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "user_id", "AttributeType": "S"},
            {"AttributeName": "request_time", "AttributeType": "S"},
        ],
        **capacity,
    )


def put_legacy(client: Any, table: str, user: str, request_time: str) -> None:
    item = dict(user_id=user, request_time=request_time, request_id="r", type="text")
    item.update(body="옛 질문", msg="옛 답변")
    client.put_item(TableName=table, Item={k: {"S": v} for k, v in item.items()})


def test_numbers_are_numbers_and_none_fields_are_absent(store: DynamoStore) -> None:
    written = make_dialog(model_id=None, session_id=None, feedback=None)
    store.put(written)
    item = raw_item(store, written)
    assert item["input_tokens"] == {"N": "12"} and item["latency_ms"] == {"N": "2300"}
    assert item["day"] == {"S": "2026-11-25"}
    assert item["status"] == {"S": "complete"}
    assert not {"model_id", "session_id", "feedback"} & item.keys()
    assert all("NULL" not in value for value in item.values())


def test_the_client_retries_adaptively_and_takes_its_endpoint_from_the_env(
    store: DynamoStore, moto: MotoDynamo
) -> None:
    assert store.client.meta.config.retries["mode"] == "adaptive"
    assert store.client.meta.config.retries["total_max_attempts"] == 11  # 1 + 10 retries
    # The pages' store, which a page run waits on, retries once; the outbox's writer, above.
    page_store = open_store(Settings(chat_history_table=store.table_name))
    assert isinstance(page_store, DynamoStore)
    assert page_store.client.meta.config.retries["total_max_attempts"] == 2
    assert store.client.meta.endpoint_url == moto.url
    assert store.client.meta.region_name == "us-east-1"


def test_create_table_makes_the_day_index_and_is_idempotent(client: Any) -> None:
    assert create_table(client, "chat") is True
    table = client.describe_table(TableName="chat")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]] == [
        ("user_id", "HASH"),
        ("request_time", "RANGE"),
    ]
    indexes = {
        index["IndexName"]: [(k["AttributeName"], k["KeyType"]) for k in index["KeySchema"]]
        for index in table["GlobalSecondaryIndexes"]
    }
    assert indexes == {
        DAY_INDEX: [("day", "HASH"), ("request_time", "RANGE")],
        CONVERSATION_INDEX: [("conversation_id", "HASH"), ("request_time", "RANGE")],
        RECENT_INDEX: [("user_id", "HASH"), ("updated", "RANGE")],
    }
    assert all(
        i["Projection"] == {"ProjectionType": "ALL"} for i in table["GlobalSecondaryIndexes"]
    )
    assert create_table(client, "chat") is False


@pytest.mark.parametrize("billing", ["PAY_PER_REQUEST", "PROVISIONED"])
def test_a_legacy_table_gets_the_indexes_and_its_items_a_day(client: Any, billing: str) -> None:
    legacy_table(client, "legacy", billing)
    put_legacy(client, "legacy", "alice", "2023-12-05 18:26:00")
    put_legacy(client, "legacy", "bob", "2023-12-06 09:00:00")
    store = DynamoStore("legacy")
    store.set_chat_start("alice", NOW)
    query = DialogQuery(
        datetime(2023, 12, 5, tzinfo=UTC), datetime(2023, 12, 7, tzinfo=UTC), CellFilter()
    )
    with pytest.raises(StoreError, match=r"has no 'by_day' index.*create_table --table legacy"):
        store.dialog_page(query, 10)

    assert create_table(client, "legacy", index_delay=0.01) is False
    indexes = client.describe_table(TableName="legacy")["Table"]["GlobalSecondaryIndexes"]
    assert [i["IndexName"] for i in indexes] == [DAY_INDEX, CONVERSATION_INDEX, RECENT_INDEX]
    assert store.dialog_page(query, 10).dialogs == []  # the index is sparse: no day, not listed

    assert backfill_day(client, "legacy") == 2
    got = store.dialog_page(query, 10).dialogs
    assert [(d.user_id, d.request_time, d.status) for d in got] == [
        ("bob", "2023-12-06 09:00:00", "complete"),
        ("alice", "2023-12-05 18:26:00", "complete"),
    ]
    marker = client.get_item(
        TableName="legacy",
        Key={"user_id": {"S": "alice"}, "request_time": {"S": CHAT_START_KEY}},
    )["Item"]
    assert "day" not in marker
    assert backfill_day(client, "legacy") == 0


def test_dialogs_before_conversations_are_grouped_by_session_or_day(client: Any) -> None:
    legacy_table(client, "legacy", "PAY_PER_REQUEST")
    put_legacy(client, "legacy", "alice", "2023-12-05 18:26:00")  # the original's: by day
    put_legacy(client, "legacy", "alice", "2023-12-05 19:00:00")
    for minute, question in ((1, "첫 질문"), (2, "둘째 질문")):  # the app's: by session
        old = make_dialog(at=NOW + timedelta(minutes=minute), body=question, conversation_id=None)
        item = dynamodb_module._serialize(old)
        client.put_item(TableName="legacy", Item=item)
    create_table(client, "legacy", index_delay=0.01)
    store = DynamoStore("legacy")
    store.set_chat_start("alice", NOW)
    assert store.conversations("alice", 10).conversations == []  # no summaries yet

    assert backfill_conversations(client, "legacy") == 4
    page = store.conversations("alice", 10).conversations
    assert [c.title for c in page] == ["첫 질문", "옛 질문"]
    by_session = store.conversation_dialogs("alice", page[0].conversation_id)
    assert [d.body for d in by_session] == ["첫 질문", "둘째 질문"]
    by_day = store.conversation_dialogs("alice", page[1].conversation_id)
    assert [d.request_time for d in by_day] == ["2023-12-05 18:26:00", "2023-12-05 19:00:00"]
    assert backfill_conversations(client, "legacy") == 0
    assert main(["--table", "legacy", "--backfill-conversations"]) == 0


def test_a_missing_table_names_the_create_command(moto: MotoDynamo) -> None:
    store = DynamoStore("nowhere")
    for call in (
        lambda: store.put(make_dialog()),
        lambda: store.user_dialogs("alice", NOW),
        lambda: store.dialog_page(DialogQuery(NOW, NOW + timedelta(days=1), CellFilter()), 10),
        lambda: store.rollup_cells("2026-11-25", "2026-11-26"),
        lambda: store.chat_start("alice"),
        lambda: store.delete_user("alice"),
    ):
        with pytest.raises(StoreError) as caught:
            call()
        message = str(caught.value)
        assert "'nowhere' does not exist" in message
        assert "python -m chatbot.store.create_table --table nowhere" in message
        assert isinstance(caught.value.__cause__, ClientError)
        assert SECRET not in message and "testing" not in message


def test_no_region_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="'chat'"):
        DynamoStore("chat")


def test_open_store_uses_the_aws_region_not_bedrocks(
    moto: MotoDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    store = open_store(Settings(chat_history_table="chat", bedrock_region="us-west-2"))
    assert isinstance(store, DynamoStore)
    assert store.table_name == "chat" and store.client.meta.region_name == "eu-west-1"


def test_delete_user_deletes_more_than_one_batch(store: DynamoStore) -> None:
    for i in range(60):
        store.put(make_dialog(at=NOW + timedelta(seconds=i)))
    store.put(make_dialog(user="bob"))
    store.set_chat_start("alice", NOW)
    assert store.delete_user("alice") == 60
    assert store.user_dialogs("alice", NOW - timedelta(days=1)) == []
    assert store.chat_start("alice") is None
    assert len(store.user_dialogs("bob", NOW - timedelta(days=1))) == 1


def test_an_item_over_the_limit_is_rejected_not_retried(store: DynamoStore) -> None:
    # What fit() prevents: DynamoDB refuses the item itself, so the outbox must not retry it.
    with pytest.raises(RejectedDialog, match="ValidationException"):
        store.put(make_dialog(body="가" * 140_000))


def test_feedback_on_a_missing_dialog_creates_nothing(store: DynamoStore, client: Any) -> None:
    with pytest.raises(StoreError, match="no dialog"):
        store.set_feedback("alice", "2026-11-25T09:30:15.123Z#deadbeef", Rating("up"))
    reply = client.scan(TableName=store.table_name)
    assert reply["Count"] == 0


# Stubbed clients: replies moto cannot be asked for (throttling, access denied).


def stubbed(moto: MotoDynamo) -> tuple[DynamoStore, Stubber]:
    client = dynamodb_client()
    return DynamoStore("chat", client=client), Stubber(client)


def test_access_denied_names_the_missing_permission(moto: MotoDynamo) -> None:
    store, stub = stubbed(moto)
    stub.add_client_error(
        "query",
        service_error_code="AccessDeniedException",
        service_message="User: arn:aws:iam::123456789012:user/app is not authorized",
        http_status_code=400,
    )
    with stub, pytest.raises(StoreError) as caught:
        store.user_dialogs("alice", NOW)
    assert "dynamodb:Query permission on table 'chat'" in str(caught.value)
    assert isinstance(caught.value.__cause__, ClientError)


# What AWS says on an IAM denial: the account id and the caller's ARN, never to be shown.
ACCOUNT = "123456789012"
DENIED = (
    f"User: arn:aws:iam::{ACCOUNT}:user/chat is not authorized to perform: "
    f"dynamodb:BatchWriteItem on resource: arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/chat "
    "because no identity-based policy allows the dynamodb:BatchWriteItem action"
)


def client_error(code: str, message: str, operation: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.mark.parametrize(
    ("code", "says"),
    [
        ("AccessDeniedException", "dynamodb:BatchWriteItem permission on table 'chat'"),
        ("UnrecognizedClientException", "deleting a user's items failed"),
        ("ProvisionedThroughputExceededException", "throttling table 'chat'"),
    ],
)
def test_store_errors_show_the_code_and_our_words_never_awss_message(code: str, says: str) -> None:
    error = dynamodb_module.store_error(
        client_error(code, DENIED, "BatchWriteItem"), "chat", "deleting a user's items"
    )
    text = str(error)
    assert ACCOUNT not in text and "arn:" not in text and "not authorized" not in text
    assert code in text and says in text


def test_a_denied_transaction_names_the_item_permissions_iam_checks() -> None:
    denied = client_error("AccessDeniedException", DENIED, "TransactWriteItems")
    text = str(dynamodb_module.store_error(denied, "chat", "writing a dialog"))
    assert "lack the dynamodb:PutItem, UpdateItem or DeleteItem permission" in text
    assert "TransactWriteItems permission" not in text


def test_a_denied_delete_shows_no_arn_on_the_page(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_table(client, "chat")
    monkeypatch.setenv("CHAT_HISTORY_TABLE", "chat")

    def denied(self: DynamoStore, requests: list[dict[str, Any]]) -> None:
        raise client_error("AccessDeniedException", DENIED, "BatchWriteItem")

    monkeypatch.setattr(DynamoStore, "_write_batch", denied)
    DynamoStore("chat").put(make_dialog(user="alice"))
    at = AppTest.from_file(str(Path(__file__).parents[1] / "app.py"), default_timeout=30)
    at.query_params["user"] = "alice"
    at.run()
    at.sidebar.button(key="delete_history").click().run()
    at.button(key="delete_yes").click().run()
    assert not at.exception
    shown = [
        str(element.value)
        for kind in ("error", "warning", "info", "success", "markdown", "caption", "toast")
        for element in getattr(at, kind)
    ]
    assert shown and not any(ACCOUNT in text or "arn:aws" in text for text in shown)
    [error] = [e.value for e in at.error]
    assert "AccessDeniedException" in error and "dynamodb:BatchWriteItem" in error


def test_throttling_past_the_retries_says_so(moto: MotoDynamo) -> None:
    store, stub = stubbed(moto)  # a Stubber skips botocore's retries: this is after them
    stub.add_response("get_item", {})
    stub.add_client_error(
        "transact_write_items",
        service_error_code="ProvisionedThroughputExceededException",
        service_message="The level of configured provisioned throughput was exceeded",
        http_status_code=400,
    )
    with stub, pytest.raises(StoreError, match="throttling table 'chat'"):
        store.put(make_dialog())


def test_unprocessed_deletes_are_sent_again_until_none_remain(
    moto: MotoDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamodb_module, "_UNPROCESSED_BASE_DELAY_S", 0.0)
    store, stub = stubbed(moto)
    keys = [  # conversation summaries: deleted in batches (dialogs go in transactions)
        {"user_id": {"S": "alice"}, "request_time": {"S": f"!conv#c{i}"}} for i in range(3)
    ]
    stub.add_response("query", {"Items": keys, "Count": 3, "ScannedCount": 3})
    left = {"chat": [{"DeleteRequest": {"Key": keys[2]}}]}
    stub.add_response("batch_write_item", {"UnprocessedItems": left})
    stub.add_response(
        "batch_write_item", {"UnprocessedItems": {}}, expected_params={"RequestItems": left}
    )
    with stub:
        assert store.delete_user("alice") == 0  # no dialogs
    stub.assert_no_pending_responses()


def test_deletes_left_unprocessed_too_long_are_a_store_error(
    moto: MotoDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamodb_module, "_UNPROCESSED_BASE_DELAY_S", 0.0)
    store, stub = stubbed(moto)
    key = {"user_id": {"S": "alice"}, "request_time": {"S": "!chat-start"}}
    stub.add_response("query", {"Items": [key], "Count": 1, "ScannedCount": 1})
    left = {"chat": [{"DeleteRequest": {"Key": key}}]}
    for _ in range(dynamodb_module._UNPROCESSED_ATTEMPTS):
        stub.add_response("batch_write_item", {"UnprocessedItems": left})
    with stub, pytest.raises(StoreError, match="1 writes still unprocessed"):
        store.delete_user("alice")


def test_the_command_creates_then_reports_and_backfills(
    client: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_HISTORY_TABLE", "from-env")
    assert main([]) == 0
    assert "created table 'from-env'" in capsys.readouterr().out
    put_legacy(client, "from-env", "alice", "2023-12-05 18:26:00")
    assert main(["--table", "from-env", "--backfill-day"]) == 0
    out = capsys.readouterr().out
    assert "exists with indexes by_day, by_conversation, by_user_updated" in out
    assert "set day on 1 items" in out


def test_the_command_needs_a_table(moto: MotoDynamo) -> None:
    with pytest.raises(SystemExit) as caught:
        main([])
    assert caught.value.code == 2


def test_a_search_reads_a_bounded_number_of_the_newest_dialogs(
    store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamodb_module, "SEARCH_READ_LIMIT", 3)
    for minute in range(5):
        store.put(make_dialog(at=NOW + timedelta(minutes=minute), body=f"지하철 질문-{minute}"))
    results = store.search("alice", "지하철", 10)
    assert [d.body for d in results.dialogs] == ["지하철 질문-4", "지하철 질문-3", "지하철 질문-2"]
    assert (results.searched, results.complete) == (3, False)
    assert store.search("alice", "질문-0", 10).dialogs == []  # beyond the bound: said so
    monkeypatch.setattr(dynamodb_module, "SEARCH_READ_LIMIT", 100)
    assert len(store.search("alice", "질문-0", 10).dialogs) == 1


# Rollups: kept on write in the same transaction, exact after races, replays and recounts.

SEOUL = ZoneInfo(DEFAULT_REPORT_TIMEZONE)
DAYS = ("2026-11-25", "2026-11-26")  # Seoul days: NOW (18:30 in Seoul) and the next


def scan(store: DynamoStore) -> Any:
    """The table's pages, read by a client of the tests' own: not through the store."""
    client = dynamodb_client(user_agent="tests")
    return client.get_paginator("scan").paginate(TableName=store.table_name)


def stored_dialogs(store: DynamoStore) -> list[Dialog]:
    """Every dialog in the table."""
    return [
        dynamodb_module._deserialize(item)
        for page in scan(store)
        for item in page["Items"]
        if not item["request_time"]["S"].startswith("!")
    ]


def rollup_items(store: DynamoStore) -> list[dict[str, Any]]:
    return [
        item
        for page in scan(store)
        for item in page["Items"]
        if item["user_id"]["S"].startswith(ROLLUP_PREFIX)
    ]


def counters(items: list[dict[str, Any]]) -> dict[tuple[str, str], Counter[str]]:
    """Rollup items by key: their nonzero counters."""
    return {
        (item["user_id"]["S"], item["request_time"]["S"]): dynamodb_module._counters(item)
        for item in items
    }


def assert_exact(store: DynamoStore) -> None:
    """The rollups equal a tally of the dialogs in the table."""
    expected = tally(stored_dialogs(store), SEOUL)
    assert store.rollup_cells(*DAYS)[0] == expected.cells
    assert store.rollup_users(*DAYS)[0] == user_rollups(expected.slices, expected.conversations)


class Watched:
    """A client that counts the calls the store makes and can run ``before_write`` (a
    concurrent change) between the store's read and its transaction."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: Counter[str] = Counter()
        self.before_write: Any = None

    def __getattr__(self, name: str) -> Any:
        self.calls[name] += 1
        return getattr(self.client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.calls["transact_write_items"] += 1
        if self.before_write is not None:
            change, self.before_write = self.before_write, None
            change()
        return self.client.transact_write_items(**kwargs)


def watched(store: DynamoStore) -> tuple[DynamoStore, Watched]:
    client = Watched(store.client)
    return DynamoStore(store.table_name, client=client), client


def test_rollup_items_have_their_own_partitions_and_no_index_sees_them(
    store: DynamoStore,
) -> None:
    written = make_dialog(feedback="up")
    store.put(written)
    keys = sorted((i["user_id"]["S"], i["request_time"]["S"]) for i in rollup_items(store))
    model = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
    assert keys == [
        ("!rollup#2026-11-25", f'!cell#["normal", "{model}", "complete", "text", "up", "ko"]'),
        ("!rollup#2026-11-25", f'!slice#["alice", "normal", "{model}"]'),
    ]
    assert all(not {"day", "conversation_id", "updated"} & i.keys() for i in rollup_items(store))
    cell = next(i for i in rollup_items(store) if "!cell#" in i["request_time"]["S"])
    assert cell["dialogs"] == {"N": "1"} and cell["input_tokens"] == {"N": "12"}
    assert raw_item(store, written)["rev"]  # written with a revision
    assert_exact(store)


def test_a_replayed_put_adds_nothing_and_sends_no_transaction(store: DynamoStore) -> None:
    written = make_dialog()
    store.put(written)
    before = rollup_items(store)
    replaying, client = watched(store)
    replaying.put(written)
    assert client.calls["transact_write_items"] == 0 and client.calls["get_item"] == 1
    assert rollup_items(store) == before
    replaying.set_feedback("alice", written.request_time, Rating(None))  # no rating to remove
    assert client.calls["transact_write_items"] == 0
    assert_exact(store)


def test_a_change_between_the_read_and_the_write_is_read_again(store: DynamoStore) -> None:
    written = make_dialog()
    store.put(written)
    rating, client = watched(store)
    # Another process rates the dialog after this one read it: its transaction must fail on
    # the revision and be redone from the new state, or 👍 would be counted twice.
    client.before_write = lambda: store.set_feedback("alice", written.request_time, Rating("up"))
    rating.set_feedback("alice", written.request_time, Rating("down", "unhelpful"))
    assert client.calls["transact_write_items"] == 2 and client.calls["get_item"] == 2
    (got,) = stored_dialogs(store)
    assert (got.feedback, got.feedback_reason) == ("down", "unhelpful")
    assert_exact(store)
    cells = store.rollup_cells(*DAYS)[0]
    assert [cell.feedback for cell in cells] == ["down"]

    # The same for a rewrite racing a delete: the rewrite recreates the dialog, once.
    client.before_write = lambda: store.delete_conversation("alice", "c1")
    rating.put(written._replace(msg="다시 쓴 답변"))
    assert len(stored_dialogs(store)) == 1
    assert_exact(store)


def test_a_write_that_keeps_losing_races_is_a_store_error(
    store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamodb_module, "_RETRY_BASE_DELAY_S", 0.0)
    written = make_dialog()
    store.put(written)
    racing, client = watched(store)
    attempts = 0

    def another_rating() -> None:
        nonlocal attempts
        attempts += 1
        store.set_feedback("alice", written.request_time, Rating("up" if attempts % 2 else None))
        client.before_write = another_rating

    client.before_write = another_rating
    with pytest.raises(
        StoreError, match=r"other writes kept changing its items.*ConditionalCheckFailed"
    ):
        racing.set_feedback("alice", written.request_time, Rating("down"))
    assert attempts == dynamodb_module._WRITE_ATTEMPTS
    assert_exact(store)  # every failed transaction left the rollups as they were


def cancelled(*reasons: str) -> dict[str, Any]:
    """A TransactionCanceledException's reply, as botocore parses it."""
    return {
        "service_error_code": "TransactionCanceledException",
        "service_message": "Transaction cancelled, please refer cancellation reasons",
        "http_status_code": 400,
        "modeled_fields": {"CancellationReasons": [{"Code": code} for code in reasons]},
    }


@pytest.mark.parametrize(
    ("reasons", "error", "says"),
    [
        # AWS refuses an item over 400 KB inside a transaction this way (moto: directly).
        (("ValidationError", "None", "None"), RejectedDialog, "ValidationError, None, None"),
        (("None", "ValidationError", "None"), StoreError, r"Exception \(None, ValidationError"),
    ],
)
def test_a_cancelled_transaction_is_a_store_error_rejected_if_the_dialog_was(
    moto: MotoDynamo, reasons: tuple[str, ...], error: type[StoreError], says: str
) -> None:
    store, stub = stubbed(moto)
    stub.add_response("get_item", {})
    stub.add_client_error("transact_write_items", **cancelled(*reasons))
    with stub, pytest.raises(error, match=says) as caught:
        store.put(make_dialog())
    assert (type(caught.value) is RejectedDialog) == (error is RejectedDialog)


def test_recount_rebuilds_wiped_rollups_and_removes_stale_ones(
    store: DynamoStore, client: Any
) -> None:
    evening = datetime(2026, 11, 25, 14, 50, tzinfo=UTC)  # 23:50 in Seoul: two report days
    for minute in range(0, 60, 7):
        at = evening + timedelta(minutes=minute)
        store.put(make_dialog("alice" if minute % 2 else "bob", at, conversation_id=f"c{minute}"))
    bobs = next(d for d in stored_dialogs(store) if d.user_id == "bob")
    store.set_feedback("bob", bobs.request_time, Rating("down", "too_long"))
    kept = rollup_items(store)
    for item in kept:
        client.delete_item(TableName=store.table_name, Key=dynamodb_module._key(item))
    assert store.rollup_cells(*DAYS)[0] == {}
    stray = {"user_id": {"S": "!rollup#2026-11-26"}, "request_time": {"S": '!cell#["x"]'}}
    client.put_item(TableName=store.table_name, Item={**stray, "dialogs": {"N": "5"}})

    counting, calls = watched(store)
    assert counting.recount(*DAYS) == 9
    # Two Seoul days overlap three UTC days of by_day, each read once; two rollup partitions.
    assert calls.calls["get_paginator"] == 3 + 2
    assert counters(rollup_items(store)) == counters(kept)  # the same items, the same counts
    assert_exact(store)
    assert store.recount("2026-11-27", "2026-11-27") == 0


def test_items_written_before_rollups_are_recounted_and_then_kept_exact(
    store: DynamoStore, client: Any
) -> None:
    old = [
        make_dialog(at=NOW + timedelta(minutes=m), conversation_id="c1", msg=f"answer {m}")
        for m in range(3)
    ]
    for dialog in old:  # as the version before rollups wrote them: no revision
        client.put_item(TableName=store.table_name, Item=dynamodb_module._serialize(dialog))
    assert store.rollup_cells(*DAYS)[0] == {}
    assert store.recount(*DAYS) == 3
    assert_exact(store)
    store.set_feedback("alice", old[0].request_time, Rating("up"))  # the legacy condition
    store.put(old[1]._replace(status="stopped"))
    assert "rev" not in raw_item(store, old[2])
    assert_exact(store)
    assert store.delete_conversation("alice", "c1") == 3
    assert_exact(store)
    assert store.rollup_users(*DAYS)[0] == []


def test_deletes_of_many_dialogs_go_25_to_a_transaction_and_stay_exact(
    store: DynamoStore,
) -> None:
    for i in range(30):
        store.put(make_dialog(at=NOW + timedelta(seconds=i), conversation_id=f"c{i % 2}"))
    store.put(make_dialog("bob", conversation_id="c0"))
    deleting, client = watched(store)
    assert deleting.delete_user("alice") == 30
    assert client.calls["transact_write_items"] == 2
    assert_exact(store)
    [row] = store.rollup_users(*DAYS)[0]
    assert (row.user_id, row.conversations) == ("bob", frozenset({"c0"}))


def test_a_rewrite_that_moves_a_dialog_keeps_the_conversations_exact(store: DynamoStore) -> None:
    first, second = (make_dialog(at=NOW + timedelta(minutes=m)) for m in (0, 1))
    store.put(first)
    store.put(second)
    store.put(first._replace(model_id="other-model"))  # its slice changes, c1 stays in both
    assert_exact(store)
    store.put(second._replace(model_id="other-model"))  # c1 leaves the first slice
    assert_exact(store)
    [row] = store.rollup_users(*DAYS)[0]
    assert (row.model_id, row.conversations) == ("other-model", frozenset({"c1"}))


def test_the_tables_read_budget_returns_a_cursor_that_continues_exactly(
    store: DynamoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = [
        make_dialog(
            "alice" if i % 3 else "bob",
            NOW - timedelta(hours=10 * i),
            status="error" if i % 4 == 0 else "complete",
        )
        for i in range(12)  # 12 dialogs over 5 UTC days, 3 of them errors
    ]
    for dialog in written:
        store.put(dialog)
    monkeypatch.setattr(dynamodb_module, "PAGE_READ_BUDGET", 4)
    since, until = NOW - timedelta(days=5), NOW + timedelta(seconds=1)
    for user_id in (None, "alice"):
        for statuses in ((), ("error",)):
            query = DialogQuery(since, until, CellFilter(statuses=statuses), user_id)
            expected = [
                d
                for d in written  # newest first
                if (user_id is None or d.user_id == user_id)
                and (not statuses or d.status in statuses)
            ]
            got: list[Dialog] = []
            cursor: str | None = None
            pages = 0
            while True:
                page = store.dialog_page(query, 2, cursor, text_chars=None)
                assert len(page.dialogs) <= 2 and page.read <= 4
                got.extend(page.dialogs)
                pages += 1
                if (cursor := page.cursor) is None:
                    break
            assert got == expected, (user_id, statuses)
            if statuses:  # a rare filter: pages cut short by the budget, then resumed
                assert pages > len(expected) // 2 + 1


def test_the_table_cuts_texts_and_leaves_out_document_text(store: DynamoStore) -> None:
    written = make_dialog(body="질문" * 100, msg="답" * 300, document_text="본문" * 50)
    store.put(written)
    query = DialogQuery(NOW - timedelta(hours=1), NOW + timedelta(hours=1), CellFilter())
    [shown] = store.dialog_page(query, 5, text_chars=10).dialogs
    assert (shown.body, shown.msg, shown.document_text) == (written.body[:10], "답" * 10, None)
    assert store.dialog_page(query, 5, text_chars=None).dialogs == [written]
    assert store.dialog("alice", written.request_time) == written
    assert store.dialog("alice", "!chat-start") is None


def test_the_table_filters_values_that_are_absent_as_the_rollups_count_them(
    store: DynamoStore,
) -> None:
    bare = make_dialog(mode=None, model_id=None, feedback=None)
    store.put(bare)
    empty_mode = make_dialog(at=NOW + timedelta(seconds=1), mode="", model_id="")
    store.put(empty_mode)
    query = DialogQuery(NOW, NOW + timedelta(minutes=1), CellFilter(modes=["normal"]))
    assert len(store.dialog_page(query, 10, text_chars=None).dialogs) == 2
    query = DialogQuery(NOW, NOW + timedelta(minutes=1), CellFilter(models=[""], feedbacks=[""]))
    assert len(store.dialog_page(query, 10, text_chars=None).dialogs) == 2
    assert {cell.mode for cell in store.rollup_cells(*DAYS)[0]} == {"normal"}


def test_the_command_recounts_rollups(
    store: DynamoStore, client: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    item = dynamodb_module._serialize(make_dialog())  # written before rollups
    client.put_item(TableName=store.table_name, Item=item)
    args = ["--table", store.table_name, "--recount-rollups", *DAYS]
    assert main(args) == 0
    assert "recounted the rollups of 2 days (2026-11-25 to 2026-11-26): 1 dialogs" in (
        capsys.readouterr().out
    )
    assert_exact(store)
    with pytest.raises(SystemExit):
        main(["--table", store.table_name, "--recount-rollups", "2026-11-26", "yesterday"])
