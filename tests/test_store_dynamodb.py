"""What only the DynamoDB store has: its item layout, its table command, its error messages."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from streamlit.testing.v1 import AppTest

from chatbot.config import Settings
from chatbot.store import dynamodb as dynamodb_module
from chatbot.store import open_store
from chatbot.store.base import Dialog, Rating, RejectedDialog, StoreError
from chatbot.store.create_table import backfill_conversations, backfill_day, create_table, main
from chatbot.store.dynamodb import (
    CHAT_START_KEY,
    CONVERSATION_INDEX,
    DAY_INDEX,
    RECENT_INDEX,
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
    since, until = datetime(2023, 12, 5, tzinfo=UTC), datetime(2023, 12, 7, tzinfo=UTC)
    with pytest.raises(StoreError, match=r"has no 'by_day' index.*create_table --table legacy"):
        store.browse(since, until)

    assert create_table(client, "legacy", index_delay=0.01) is False
    indexes = client.describe_table(TableName="legacy")["Table"]["GlobalSecondaryIndexes"]
    assert [i["IndexName"] for i in indexes] == [DAY_INDEX, CONVERSATION_INDEX, RECENT_INDEX]
    assert store.browse(since, until)[0] == []  # the index is sparse: no day, not listed

    assert backfill_day(client, "legacy") == 2
    got, _ = store.browse(since, until)
    assert [(d.user_id, d.request_time, d.status) for d in got] == [
        ("alice", "2023-12-05 18:26:00", "complete"),
        ("bob", "2023-12-06 09:00:00", "complete"),
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
        lambda: store.browse(NOW, NOW + timedelta(days=1)),
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


def test_a_denied_delete_shows_no_arn_on_the_page(
    client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    create_table(client, "chat")
    monkeypatch.setenv("CHAT_HISTORY_TABLE", "chat")

    def denied(self: DynamoStore, keys: list[dict[str, Any]]) -> None:
        raise client_error("AccessDeniedException", DENIED, "BatchWriteItem")

    monkeypatch.setattr(DynamoStore, "_delete_batch", denied)
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
    stub.add_client_error(
        "put_item",
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
    keys = [
        {"user_id": {"S": "alice"}, "request_time": {"S": f"2026-11-25T00:00:{i:02d}.000Z#x"}}
        for i in range(3)
    ]
    stub.add_response("query", {"Items": keys, "Count": 3, "ScannedCount": 3})
    left = {"chat": [{"DeleteRequest": {"Key": keys[2]}}]}
    stub.add_response("batch_write_item", {"UnprocessedItems": left})
    stub.add_response(
        "batch_write_item", {"UnprocessedItems": {}}, expected_params={"RequestItems": left}
    )
    with stub:
        assert store.delete_user("alice") == 3
    stub.assert_no_pending_responses()


def test_deletes_left_unprocessed_too_long_are_a_store_error(
    moto: MotoDynamo, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dynamodb_module, "_UNPROCESSED_BASE_DELAY_S", 0.0)
    store, stub = stubbed(moto)
    key = {"user_id": {"S": "alice"}, "request_time": {"S": "2026-11-25T00:00:00.000Z#x"}}
    stub.add_response("query", {"Items": [key], "Count": 1, "ScannedCount": 1})
    left = {"chat": [{"DeleteRequest": {"Key": key}}]}
    for _ in range(dynamodb_module._UNPROCESSED_ATTEMPTS):
        stub.add_response("batch_write_item", {"UnprocessedItems": left})
    with stub, pytest.raises(StoreError, match="1 deletes still unprocessed"):
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
