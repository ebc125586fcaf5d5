"""The IAM policies in ``iam/`` allow what the code calls, and the app's grants nothing more.

Two checks. Statically, the operations the code can call (boto3 client methods, paginators
and waiters named in its source, and langchain-aws's Converse calls) against the policies.
Dynamically, every operation the loopback servers answered during the test session
(``loopback.recorder``), told apart by the client's user agent: the app's against
``iam/app-policy.json``, the create-table command's against ``iam/admin-policy.json``; calls
of clients without either agent (test code's own) are not checked.

The evaluator is simple but not lax: only Allow statements with Action and Resource exist in
the policies (asserted), actions match with IAM's wildcards, and a resource matches when the
ARN's service, resource type and the names the code fixes (the index ``by_day``) match; the
names a deployment picks (region, account, table, model) are the policies' examples.
"""

from __future__ import annotations

import ast
import json
import re
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name

from chatbot.aws import ADMIN_USER_AGENT, USER_AGENT
from chatbot.config import DEFAULT_MODEL_ID
from chatbot.store.dynamodb import DAY_INDEX
from loopback import recorder

ROOT = Path(__file__).resolve().parent.parent
APP_POLICY = ROOT / "iam" / "app-policy.json"
ADMIN_POLICY = ROOT / "iam" / "admin-policy.json"
ADMIN_MODULE = ROOT / "chatbot" / "store" / "create_table.py"
APP_SOURCES = [
    path
    for path in [ROOT / "app.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "chatbot").rglob("*.py")]
    if path != ADMIN_MODULE
]
SERVICES = ("bedrock-runtime", "bedrock", "dynamodb")
# The region and account of the ARNs a call needs: any literal ones in a policy match them.
REGION, ACCOUNT = "us-east-1", "123456789012"
# Cross-region inference profile ids start with one of these, then the model id.
PROFILE_PREFIXES = frozenset({"global", "us", "eu", "apac", "jp", "au", "ca", "us-gov"})

Operation = tuple[str, str]  # (botocore service name, API operation name)
Need = tuple[str, str]  # (IAM action, resource ARN)


# --- the policies -------------------------------------------------------------------------


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@cache
def load_policy(path: Path) -> dict[str, Any]:
    policy = json.loads(path.read_text())
    assert policy["Version"] == "2012-10-17"
    statements = _list(policy["Statement"])
    for statement in statements:
        # What the evaluator below does not model must not be in the policy.
        assert statement["Effect"] == "Allow", statement
        assert set(statement) <= {"Sid", "Effect", "Action", "Resource"}, statement
        assert statement["Action"] and statement["Resource"], statement
    return {"Version": policy["Version"], "Statement": statements}


def _glob(text: str) -> str:
    """IAM's wildcards as a regex: ``*`` any characters, ``?`` one."""
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)


def _name(text: str, literal: str) -> str:
    """A deployment's own name (region, account, table, model) matches any name; an empty
    one (a foundation model's account) matches only empty, a wildcard as IAM matches it."""
    if not text:
        return ""
    return _glob(text) if "*" in text or "?" in text else literal


@cache
def _resource_pattern(pattern: str) -> re.Pattern[str]:
    parts = pattern.split(":", 5)
    if len(parts) < 6:  # "*"
        return re.compile(_glob(pattern))
    arn, partition, service, region, account, resource = parts
    kind, slash, rest = resource.partition("/")
    name, sub, tail = rest.partition("/")  # "chat-history", "/", "index/by_day"
    resource_regex = _glob(resource)
    if slash:
        resource_regex = _glob(kind + "/") + _name(name, "[^/]+") + _glob(sub + tail)
    return re.compile(
        ":".join(
            [
                _glob(arn),
                _glob(partition),
                _glob(service),
                _name(region, "[^:]+"),
                _name(account, "[^:]+"),
                resource_regex,
            ]
        )
    )


def allows(policy: dict[str, Any], action: str, resource: str) -> bool:
    return any(
        any(fnmatchcase(action.lower(), granted.lower()) for granted in _list(s["Action"]))
        and any(_resource_pattern(granted).fullmatch(resource) for granted in _list(s["Resource"]))
        for s in policy["Statement"]
    )


# --- what an operation needs --------------------------------------------------------------


# A transaction has no IAM action of its own: each of its operations is authorised by its
# item action ("Using IAM with DynamoDB transactions"); the store's Put, Update and Delete.
TRANSACTION_ACTIONS = ("dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem")


def iam_actions(operation: Operation) -> tuple[str, ...]:
    service, name = operation
    if service == "bedrock-runtime":
        # Converse is authorised by the InvokeModel actions; both share the IAM prefix.
        streaming = name in ("ConverseStream", "InvokeModelWithResponseStream")
        return ("bedrock:InvokeModelWithResponseStream" if streaming else "bedrock:InvokeModel",)
    if operation == ("dynamodb", "TransactWriteItems"):
        return TRANSACTION_ACTIONS
    return (f"{service}:{name}",)  # the control plane's and DynamoDB's actions are their APIs'


def model_arns(model_id: str) -> list[str]:
    """A model id, or an inference profile and the foundation models it routes to."""
    prefix, _, model = model_id.partition(".")
    if prefix not in PROFILE_PREFIXES or not model:
        return [f"arn:aws:bedrock:{REGION}::foundation-model/{model_id}"]
    arns = [
        f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{model_id}",
        f"arn:aws:bedrock:{REGION}::foundation-model/{model}",
    ]
    if prefix == "global":  # may route to any region, named by a region-less ARN
        arns.append(f"arn:aws:bedrock:::foundation-model/{model}")
    return arns


def table_arn(table: str) -> str:
    """``table`` is a table name or "name/index/index-name"."""
    return f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}"


def needs(operation: Operation, resources: tuple[str, ...]) -> list[Need]:
    """The (action, resource) pairs an operation on ``resources`` must be allowed."""
    actions = iam_actions(operation)
    if operation[0] == "bedrock-runtime":
        return [(a, arn) for a in actions for model_id in resources for arn in model_arns(model_id)]
    if operation[0] == "dynamodb" and resources:
        return [(a, table_arn(table)) for a in actions for table in resources]
    return [(a, "*") for a in actions]  # ListFoundationModels has no resource


# --- the operations the code can call -----------------------------------------------------


@cache
def _operations_by_method() -> dict[str, list[Operation]]:
    """boto3 client method, paginator and waiter names -> the operations they call."""
    session = botocore.session.get_session()
    by_name: dict[str, list[Operation]] = {}
    for service in SERVICES:
        for name in session.get_service_model(service).operation_names:
            by_name.setdefault(xform_name(name), []).append((service, name))
        waiters = session.get_waiter_model(service)
        for waiter in waiters.waiter_names:
            operation = (service, waiters.get_waiter(waiter).operation)
            by_name.setdefault(xform_name(waiter), []).append(operation)
    return by_name


def code_operations(paths: list[Path]) -> set[Operation]:
    """Operations called in ``paths``: ``x.put_item(...)``, ``get_paginator("query")``,
    ``get_waiter("table_exists")``, and a ``ChatBedrockConverse``'s Converse calls."""
    by_name = _operations_by_method()
    found: set[Operation] = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if isinstance(func, ast.Name) and func.id == "ChatBedrockConverse":
                found |= {("bedrock-runtime", "Converse"), ("bedrock-runtime", "ConverseStream")}
            if not isinstance(func, ast.Attribute):
                continue
            if func.attr in ("get_paginator", "get_waiter") and node.args:
                argument = node.args[0]
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    found.update(by_name.get(argument.value, []))
            else:
                found.update(by_name.get(func.attr, []))
    return found


def code_needs(operation: Operation) -> list[Need]:
    """What an operation found in the code needs on the configured model and table."""
    if operation[0] == "bedrock-runtime":
        return needs(operation, (DEFAULT_MODEL_ID,))
    if operation == ("dynamodb", "Query"):  # the user's own dialogs, and the day index
        return needs(operation, ("chat-history", f"chat-history/index/{DAY_INDEX}"))
    if operation[0] == "dynamodb":
        return needs(operation, ("chat-history",))
    return needs(operation, ())


def denied(policy: dict[str, Any], wanted: list[Need]) -> list[Need]:
    return [need for need in wanted if not allows(policy, *need)]


# --- recorded calls -----------------------------------------------------------------------

# What the loopback Bedrock calls its operations.
BEDROCK_OPERATIONS: dict[str, Operation] = {
    "converse-stream": ("bedrock-runtime", "ConverseStream"),
    "converse": ("bedrock-runtime", "Converse"),
    "list-foundation-models": ("bedrock", "ListFoundationModels"),
}


def recorded_operation(call: recorder.Call) -> Operation:
    """The loopback servers' names: "converse-stream", "DynamoDB_20120810.PutItem"."""
    if call.operation.startswith("DynamoDB_"):
        return ("dynamodb", call.operation.partition(".")[2])
    return BEDROCK_OPERATIONS[call.operation]


def caller(call: recorder.Call) -> str | None:
    """Whose client made it: "admin", "app", or None (test code's own clients)."""
    tokens = call.user_agent.split()
    if ADMIN_USER_AGENT in tokens:
        return "admin"
    return "app" if USER_AGENT in tokens else None


# --- the tests ----------------------------------------------------------------------------


def assert_the_policies_cover_the_code() -> None:
    app_operations = code_operations(APP_SOURCES)
    admin_operations = code_operations([ADMIN_MODULE])
    assert {
        ("bedrock-runtime", "ConverseStream"),
        ("bedrock", "ListFoundationModels"),
        ("dynamodb", "PutItem"),
        ("dynamodb", "Query"),
    } <= app_operations  # the scan of the source finds what the app is known to call
    assert {("dynamodb", "CreateTable"), ("dynamodb", "DescribeTable")} <= admin_operations
    for policy, operations in ((APP_POLICY, app_operations), (ADMIN_POLICY, admin_operations)):
        wanted = [need for operation in sorted(operations) for need in code_needs(operation)]
        assert denied(load_policy(policy), wanted) == [], policy.name


def admin_only() -> set[Operation]:
    """What the create-table command calls and the app's code never does."""
    return code_operations([ADMIN_MODULE]) - code_operations(APP_SOURCES)


def test_the_policies_allow_what_the_code_calls() -> None:
    assert_the_policies_cover_the_code()


def test_the_app_policy_grants_only_what_the_app_calls() -> None:
    app = load_policy(APP_POLICY)
    granted = {action for s in app["Statement"] for action in _list(s["Action"])}
    called = {a for operation in code_operations(APP_SOURCES) for a in iam_actions(operation)}
    assert not any("*" in action for action in granted)
    assert granted <= called
    assert {op[1] for op in admin_only()} >= {"CreateTable", "UpdateTable", "Scan"}
    for operation in admin_only():
        for action in iam_actions(operation):
            assert not allows(app, action, table_arn("chat-history"))


def test_the_evaluator_checks_service_type_and_index() -> None:
    app, admin = load_policy(APP_POLICY), load_policy(ADMIN_POLICY)
    assert allows(app, "dynamodb:Query", table_arn(f"other-table/index/{DAY_INDEX}"))
    assert not allows(app, "dynamodb:Query", table_arn("chat-history/index/by_user"))
    # The command's policy names the table, not its indexes.
    assert not allows(admin, "dynamodb:Scan", table_arn(f"chat-history/index/{DAY_INDEX}"))
    assert not allows(app, "dynamodb:PutItem", "arn:aws:s3:::chat-history")
    assert allows(app, "bedrock:ListFoundationModels", "*")
    assert not allows(app, "dynamodb:PutItem", "*")  # granted on the table, not on everything
    profile = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:inference-profile/{DEFAULT_MODEL_ID}"
    assert allows(app, "bedrock:InvokeModel", profile)
    assert not allows(app, "bedrock:InvokeModel", profile.replace("inference-profile", "agent"))
    assert not allows(app, "bedrock:InvokeModel", table_arn("chat-history"))
    assert not allows(app, "bedrock:InvokeAgent", profile)


# Calls these tests make, recorded while they run: proof that each path is recorded (the app
# in-process, the browser tests' Streamlit subprocess, moto, the command). A recorder that saw
# nothing would otherwise pass the check vacuously.
EXPECTED: dict[str, set[tuple[str, Operation]]] = {
    "tests/test_store_contract.py::test_the_analysts_table_spans_users_and_days[dynamodb]": {
        ("app", ("dynamodb", "TransactWriteItems")),
        ("app", ("dynamodb", "Query")),
    },
    "tests/test_store_contract.py::test_feedback_is_recorded_and_cleared[dynamodb]": {
        ("app", ("dynamodb", "UpdateItem"))
    },
    "tests/test_store_contract.py::test_a_new_chat_is_remembered_and_is_not_a_dialog[dynamodb]": {
        ("app", ("dynamodb", "GetItem"))
    },
    "tests/test_store_dynamodb.py::test_delete_user_deletes_more_than_one_batch": {
        ("app", ("dynamodb", "BatchWriteItem")),
        ("app", ("dynamodb", "TransactWriteItems")),
    },
    "tests/test_store_dynamodb.py::test_the_command_recounts_rollups": {
        ("admin", ("dynamodb", name)) for name in ("Query", "BatchWriteItem")
    },
    "tests/test_store_dynamodb.py::test_the_command_creates_then_reports_and_backfills": {
        ("admin", ("dynamodb", name)) for name in ("CreateTable", "DescribeTable", "Scan")
    },
    "tests/test_chat_page.py::test_a_korean_question_streams_an_answer_that_is_shown_and_stored": {
        ("app", ("bedrock-runtime", "ConverseStream"))
    },
    "tests/test_chat_page.py::test_the_models_of_the_region_are_listed_on_request": {
        ("app", ("bedrock", "ListFoundationModels"))
    },
    "tests/test_browser.py::test_answer_streams_and_is_replayed_after_reload": {
        ("app", ("bedrock-runtime", "ConverseStream"))
    },
}


def test_the_expected_calls_name_existing_tests() -> None:
    for nodeid in EXPECTED:
        path, name = nodeid.split("::")
        assert f"def {name.split('[')[0]}(" in (ROOT / path).read_text(), nodeid


@pytest.mark.runs_last
def test_every_recorded_call_is_allowed_by_its_policy(request: pytest.FixtureRequest) -> None:
    assert_the_policies_cover_the_code()
    policies = {"app": load_policy(APP_POLICY), "admin": load_policy(ADMIN_POLICY)}
    seen: set[tuple[str, str, Operation]] = set()
    refused: set[str] = set()
    for call in recorder.calls():
        who = caller(call)
        if who is None:
            continue
        operation = recorded_operation(call)
        test = call.test.rsplit(" (", 1)[0]  # without the phase: " (setup)", " (call)"
        seen.add((test, who, operation))
        for action, resource in denied(policies[who], needs(operation, call.resources)):
            refused.add(f"{call.test}: {who} {call.operation} needs {action} on {resource}")
    assert sorted(refused) == []

    # Normally every other test (tests/conftest.py); --failed-first can still put this one first.
    items = request.session.items
    ran_before = {item.nodeid for item in items[: items.index(request.node)]}
    for nodeid, expected in EXPECTED.items():
        if nodeid in ran_before:
            recorded = {(who, operation) for test, who, operation in seen if test == nodeid}
            assert expected <= recorded, nodeid
