"""Every AWS client of the app and its commands finds the region the README documents:
``AWS_REGION`` (which boto3 alone ignores), ``AWS_DEFAULT_REGION``, or an explicit one."""

from __future__ import annotations

import uuid

import pytest
from botocore.exceptions import ClientError

from chatbot import llm
from chatbot.config import Settings
from chatbot.store import open_store
from chatbot.store.create_table import main
from chatbot.store.dynamodb import DynamoStore, dynamodb_client
from chatbot.ui import resources
from loopback.bedrock import FakeBedrock
from loopback.dynamodb import MotoDynamo


def client_regions(region: str | None = None) -> dict[str, str | None]:
    """The region of each client the app builds, given ``region`` where it takes one."""
    store = open_store(Settings(chat_history_table="chat"))
    assert isinstance(store, DynamoStore)
    return {
        "bedrock-runtime": llm.bedrock_runtime_client(region).meta.region_name,
        "dynamodb": dynamodb_client(region).meta.region_name,
        "store": DynamoStore("chat", region=region).client.meta.region_name,
        "messages": resources.bedrock_region(Settings(bedrock_region=region)),
        # open_store takes no region: the table's comes from the environment alone.
        "open_store": region or store.client.meta.region_name,
    }


def test_aws_region_alone_reaches_every_client(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-northeast-2")
    assert set(client_regions().values()) == {"ap-northeast-2"}


def test_aws_default_region_alone_still_works(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert set(client_regions().values()) == {"eu-west-1"}


def test_aws_region_wins_over_aws_default_region(monkeypatch: pytest.MonkeyPatch) -> None:
    """The AWS SDKs' order; boto3 alone would pick AWS_DEFAULT_REGION."""
    monkeypatch.setenv("AWS_REGION", "ap-northeast-2")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert set(client_regions().values()) == {"ap-northeast-2"}


def test_an_explicit_region_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-northeast-2")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    assert set(client_regions("us-west-2").values()) == {"us-west-2"}


def test_without_any_region_the_messages_say_so() -> None:
    assert resources.bedrock_region(Settings()) == "?"


def test_the_model_list_works_with_only_aws_region(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeBedrock() as bedrock:
        for name, value in bedrock.env().items():
            if name != "AWS_DEFAULT_REGION":
                monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_REGION", "ap-northeast-2")
        models = llm.list_models()
    assert models and all(model["model_id"].startswith("anthropic.") for model in models)
    assert [request.operation for request in bedrock.requests] == ["list-foundation-models"]


@pytest.fixture
def moto_env(moto_server: MotoDynamo, monkeypatch: pytest.MonkeyPatch) -> None:
    """The loopback DynamoDB and credentials, but no region."""
    for name, value in moto_server.env().items():
        if name != "AWS_DEFAULT_REGION":
            monkeypatch.setenv(name, value)


def table_exists(name: str, region: str) -> bool:
    # The test's own user agent: this DescribeTable is not the app's (see test_iam_policy.py).
    try:
        dynamodb_client(region, user_agent="tests").describe_table(TableName=name)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "ResourceNotFoundException"
        return False
    return True


def test_the_create_table_command_works_with_only_aws_region(
    moto_env: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a new user types: ``AWS_REGION=ap-northeast-2 python -m chatbot.store.create_table``."""
    monkeypatch.setenv("AWS_REGION", "ap-northeast-2")
    name = f"chat-{uuid.uuid4().hex[:8]}"
    assert main(["--table", name]) == 0
    assert f"created table {name!r}" in capsys.readouterr().out
    # moto keeps tables per region: the table is where AWS_REGION says.
    assert table_exists(name, "ap-northeast-2") and not table_exists(name, "us-east-1")


def test_the_create_table_commands_region_flag_wins(
    moto_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_REGION", "ap-northeast-2")
    name = f"chat-{uuid.uuid4().hex[:8]}"
    assert main(["--table", name, "--region", "eu-west-1"]) == 0
    assert table_exists(name, "eu-west-1") and not table_exists(name, "ap-northeast-2")
