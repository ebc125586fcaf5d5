from __future__ import annotations

import json
import socket
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError
from langchain_aws import ChatBedrockConverse
from langchain_core.messages import AIMessageChunk

from loopback.bedrock import (
    FakeBedrock,
    PromptCache,
    RecordedRequest,
    Reply,
    encode_event,
    split_tokens,
)

MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
# botocore's retries "max_attempts" counts *retries* (max_attempts=1 means two requests);
# total_max_attempts=1 is what really turns retries off.
NO_RETRY = Config(retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBedrock]:
    with FakeBedrock() as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        yield fake


@pytest.fixture
def client(server: FakeBedrock) -> Any:
    return boto3.client("bedrock-runtime", config=NO_RETRY)


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"text": text}]}]


def stream_events(client: Any, text: str = "hi") -> Iterator[dict[str, Any]]:
    response = client.converse_stream(modelId=MODEL_ID, messages=user(text))
    yield from response["stream"]


def test_split_tokens_roundtrip() -> None:
    text = "  안녕하세요,  세계!\n\n- one two\t"
    tokens = split_tokens(text)
    assert "".join(tokens) == text
    assert len(tokens) > 4
    assert split_tokens("") == []


def test_event_stream_framing() -> None:
    message = encode_event("messageStop", {"stopReason": "end_turn"})
    total, headers_len, prelude_crc = struct.unpack(">III", message[:12])
    assert total == len(message)
    assert prelude_crc == zlib.crc32(message[:8])
    assert struct.unpack(">I", message[-4:])[0] == zlib.crc32(message[:-4])
    assert json.loads(message[12 + headers_len : -4]) == {"stopReason": "end_turn"}
    assert b":event-type\x07\x00\x0bmessageStop" in message[12 : 12 + headers_len]


def test_converse_stream_via_env_endpoint(server: FakeBedrock, client: Any) -> None:
    assert client.meta.endpoint_url == server.url
    server.enqueue(Reply(text="ignored", tokens=["안녕", "하세요", "!"]))
    response = client.converse_stream(
        modelId=MODEL_ID,
        system=[{"text": "You are helpful."}],  # 16 chars
        messages=user("What is Bedrock?"),  # 16 chars
        inferenceConfig={"maxTokens": 100},
    )
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == (
        "application/vnd.amazon.eventstream"
    )
    events = list(response["stream"])
    kinds = [next(iter(e)) for e in events]
    assert kinds == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[0]["messageStart"] == {"role": "assistant"}
    texts = [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]
    assert texts == ["안녕", "하세요", "!"]
    assert events[-2]["messageStop"]["stopReason"] == "end_turn"
    usage = events[-1]["metadata"]["usage"]
    assert usage == {"inputTokens": 8, "outputTokens": 3, "totalTokens": 11}
    assert events[-1]["metadata"]["metrics"]["latencyMs"] >= 0

    [recorded] = server.requests
    assert recorded.operation == "converse-stream"
    assert recorded.model_id == MODEL_ID  # the client sends it as ...-v1%3A0
    assert recorded.body["inferenceConfig"] == {"maxTokens": 100}
    assert recorded.body["system"] == [{"text": "You are helpful."}]
    assert server.last_user_text() == "What is Bedrock?"


def test_first_token_arrives_before_stream_ends(server: FakeBedrock, client: Any) -> None:
    server.enqueue(Reply(tokens=[f"t{i} " for i in range(10)], ttft=0.05, token_delay=0.05))
    start = time.perf_counter()
    first = None
    count = 0
    for event in stream_events(client):
        if "contentBlockDelta" in event:
            count += 1
            if first is None:
                first = time.perf_counter() - start
    total = time.perf_counter() - start
    assert count == 10
    assert first is not None
    assert 0.04 <= first < 0.2  # ttft, not buffered behind later tokens
    assert total >= 0.05 + 9 * 0.05 - 0.01
    assert total - first > 0.35


def test_default_responder_echoes_and_uses_server_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeBedrock(ttft=0.1) as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        client = boto3.client("bedrock-runtime", config=NO_RETRY)
        start = time.perf_counter()
        texts = [
            e["contentBlockDelta"]["delta"]["text"]
            for e in stream_events(client, "서울 날씨는?")
            if "contentBlockDelta" in e
        ]
        assert time.perf_counter() - start >= 0.1
    assert "".join(texts) == "답변: 서울 날씨는?"


def test_langchain_stream(server: FakeBedrock, client: Any) -> None:
    reply = "Amazon Bedrock은 완전관리형 서비스입니다."
    server.enqueue(Reply(text=reply))
    llm = ChatBedrockConverse(model_id=MODEL_ID, client=client)
    chunks = list(llm.stream("Bedrock이 뭐야?"))
    text = "".join(
        block["text"]
        for chunk in chunks
        if isinstance(chunk.content, list)
        for block in chunk.content
        if isinstance(block, dict) and block.get("type") == "text"
    )
    assert text == reply
    total = chunks[0]
    for chunk in chunks[1:]:
        total += chunk
    assert isinstance(total, AIMessageChunk)
    assert total.usage_metadata is not None
    assert total.usage_metadata["output_tokens"] == len(split_tokens(reply))
    assert total.usage_metadata["input_tokens"] == len("Bedrock이 뭐야?".encode()) // 4
    assert server.requests[-1].operation == "converse-stream"


def test_langchain_invoke_uses_converse(server: FakeBedrock, client: Any) -> None:
    server.enqueue(Reply(text="짧은 답변", ttft=0.05))
    llm = ChatBedrockConverse(model_id=MODEL_ID, client=client)
    start = time.perf_counter()
    message = llm.invoke("안녕?")
    assert time.perf_counter() - start >= 0.05
    assert message.text == "짧은 답변"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] == 2
    assert server.requests[-1].operation == "converse"
    assert server.requests[-1].model_id == MODEL_ID


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("throttle", 429, "ThrottlingException"),
        ("server_error", 500, "InternalServerException"),
        ("unavailable", 503, "ServiceUnavailableException"),
        ("access_denied", 403, "AccessDeniedException"),
        ("model_not_found", 404, "ResourceNotFoundException"),
        ("validation", 400, "ValidationException"),
    ],
)
@pytest.mark.parametrize("operation", ["converse_stream", "converse"])
def test_http_faults(
    server: FakeBedrock, client: Any, fault: str, status: int, code: str, operation: str
) -> None:
    server.enqueue(Reply(fault=fault))
    with pytest.raises(ClientError) as info:
        getattr(client, operation)(modelId=MODEL_ID, messages=user("hi"))
    error = info.value.response
    assert error["Error"]["Code"] == code
    assert error["Error"]["Message"]
    assert error["ResponseMetadata"]["HTTPStatusCode"] == status
    assert len(server.requests) == 1  # max_attempts=1: no retry


def test_midstream_fault_boto3(server: FakeBedrock, client: Any) -> None:
    server.enqueue(Reply(tokens=["a ", "b ", "c ", "d "], fault="midstream", fault_after=2))
    received: list[str] = []
    with pytest.raises(EventStreamError) as info:
        for event in stream_events(client):
            if "contentBlockDelta" in event:
                received.append(event["contentBlockDelta"]["delta"]["text"])
    assert received == ["a ", "b "]
    assert isinstance(info.value, ClientError)
    assert info.value.response["Error"]["Code"] == "modelStreamErrorException"


def test_midstream_fault_langchain(server: FakeBedrock, client: Any) -> None:
    server.enqueue(Reply(tokens=["a ", "b ", "c "], fault="midstream", fault_after=1))
    llm = ChatBedrockConverse(model_id=MODEL_ID, client=client)
    received: list[Any] = []
    # ChatBedrockConverse does not wrap it: the botocore EventStreamError propagates as is.
    with pytest.raises(EventStreamError, match="modelStreamErrorException"):
        for chunk in llm.stream("hi"):
            received.extend(chunk.content if isinstance(chunk.content, list) else [])
    assert [b["text"] for b in received if isinstance(b, dict)] == ["a "]
    # The connection is still usable afterwards.
    assert "".join(llm.invoke("again").text) == "답변: again"


def test_enqueue_is_fifo_then_falls_back_to_responder(server: FakeBedrock, client: Any) -> None:
    server.enqueue(Reply(text="first"), Reply(text="second"))
    answers = [
        client.converse(modelId=MODEL_ID, messages=user(q))["output"]["message"]["content"][0][
            "text"
        ]
        for q in ("q1", "q2", "q3")
    ]
    assert answers == ["first", "second", "답변: q3"]
    assert [r.body["messages"][0]["content"][0]["text"] for r in server.requests] == [
        "q1",
        "q2",
        "q3",
    ]


def test_custom_responder_sees_decoded_request(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[RecordedRequest] = []

    def responder(request: RecordedRequest) -> Reply:
        seen.append(request)
        return Reply(text=f"{request.model_id}|{len(request.body['messages'])}")

    with FakeBedrock(responder) as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        client = boto3.client("bedrock-runtime", config=NO_RETRY)
        model = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.x-v1:0"
        out = client.converse(modelId=model, messages=user("hi"))
    assert out["output"]["message"]["content"][0]["text"] == f"{model}|1"
    assert out["stopReason"] == "end_turn"
    assert out["usage"]["outputTokens"] == 1
    assert seen[0].model_id == model
    assert seen[0].operation == "converse"


def test_list_foundation_models(server: FakeBedrock) -> None:
    bedrock = boto3.client("bedrock", config=NO_RETRY)
    summaries = bedrock.list_foundation_models()["modelSummaries"]
    assert 2 <= len(summaries) <= 3
    for summary in summaries:
        assert summary["providerName"] == "Anthropic"
        assert "claude" in summary["modelId"]
        assert summary["outputModalities"] == ["TEXT"]
        assert summary["responseStreamingSupported"] is True
        assert summary["modelLifecycle"]["status"] == "ACTIVE"
    assert server.requests[-1].operation == "list-foundation-models"


def test_concurrent_requests_all_recorded(server: FakeBedrock, client: Any) -> None:
    errors: list[BaseException] = []

    def call(i: int) -> None:
        try:
            list(stream_events(client, f"q{i}"))
        except BaseException as exc:  # pragma: no cover - surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(r.body["messages"][0]["content"][0]["text"] for r in server.requests) == sorted(
        f"q{i}" for i in range(8)
    )


def test_accepted_sockets_disable_nagle(server: FakeBedrock) -> None:
    # Observable server-side only; check the handler is configured to set TCP_NODELAY and that
    # a raw HTTP/1.1 request gets a chunked event stream.
    from loopback.bedrock import _Handler

    assert _Handler.disable_nagle_algorithm is True
    body = json.dumps({"messages": user("x")}).encode()
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(
            b"POST /model/m%%3A0/converse-stream HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body)
        )
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert rest.endswith(b"0\r\n\r\n")
    assert server.requests[-1].model_id == "m:0"


def test_unknown_fault_is_rejected_at_construction() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        Reply(fault="throttled")


CACHE_POINT = {"cachePoint": {"type": "default"}}


def cached_usage(client: Any, system: list, messages: list, model: str = MODEL_ID) -> dict:
    usage = client.converse(modelId=model, system=system, messages=messages)["usage"]
    return {
        key: usage.get(key)
        for key in ("inputTokens", "cacheReadInputTokens", "cacheWriteInputTokens")
    }


def test_a_prefix_up_to_a_cache_point_is_written_once_then_read(
    server: FakeBedrock, client: Any
) -> None:
    system = [{"text": "규칙 " * 1000}, CACHE_POINT]  # 7,000 bytes: 1,750 tokens
    first = cached_usage(client, system, user("질문"))
    assert first == {"inputTokens": 1, "cacheReadInputTokens": 0, "cacheWriteInputTokens": 1750}
    again = cached_usage(client, system, user("다른 질문"))
    assert again == {"inputTokens": 3, "cacheReadInputTokens": 1750, "cacheWriteInputTokens": 0}
    other_model = cached_usage(client, system, user("질문"), model="anthropic.other-v1:0")
    assert other_model["cacheWriteInputTokens"] == 1750  # each model has its own cache


def test_a_prefix_under_the_minimum_is_not_cached_and_no_points_no_counts(
    server: FakeBedrock, client: Any
) -> None:
    short = [{"text": "규칙 " * 100}, CACHE_POINT]  # 175 tokens
    for _ in range(2):
        usage = cached_usage(client, short, user("질문"))
        assert usage["cacheReadInputTokens"] == usage["cacheWriteInputTokens"] == 0
    plain = cached_usage(client, [{"text": "규칙 " * 1000}], user("질문"))
    assert plain["cacheReadInputTokens"] is None and plain["cacheWriteInputTokens"] is None


def test_a_cache_point_moved_on_reads_the_earlier_prefix_looking_back(
    server: FakeBedrock, client: Any
) -> None:
    """The next turn's point is two blocks after the last turn's: Claude finds it anyway."""
    system = [{"text": "system"}]
    q1, a1 = "첫 질문 " * 300, "첫 답변 " * 300
    through_a1 = len(("system" + q1 + a1).encode()) // 4  # 1,651 tokens
    turn1 = [
        {"role": "user", "content": [{"text": q1}]},
        {"role": "assistant", "content": [{"text": a1}, CACHE_POINT]},
        {"role": "user", "content": [{"text": "둘째 질문"}]},
    ]
    assert cached_usage(client, system, turn1)["cacheWriteInputTokens"] == through_a1
    turn2 = [
        {"role": "user", "content": [{"text": q1}]},
        {"role": "assistant", "content": [{"text": a1}]},
        {"role": "user", "content": [{"text": "둘째 질문"}]},
        {"role": "assistant", "content": [{"text": "둘째 답변"}, CACHE_POINT]},
        {"role": "user", "content": [{"text": "셋째 질문"}]},
    ]
    usage = cached_usage(client, system, turn2)
    through_a2 = len(("system" + q1 + a1 + "둘째 질문" + "둘째 답변").encode()) // 4
    assert usage["cacheReadInputTokens"] == through_a1
    assert usage["cacheWriteInputTokens"] == through_a2 - through_a1


def test_a_cache_hit_shortens_the_time_to_first_token(monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeBedrock(ttft=0.5, cache_hit_saving=0.5) as fake:
        for key, value in fake.env().items():
            monkeypatch.setenv(key, value)
        client = boto3.client("bedrock-runtime", config=NO_RETRY)
        system = [{"text": "규칙 " * 1000}, CACHE_POINT]
        seconds = []
        for _ in range(2):
            started = time.perf_counter()
            client.converse(modelId=MODEL_ID, system=system, messages=user("질문"))
            seconds.append(time.perf_counter() - started)
    assert seconds[0] >= 0.5 > seconds[1]  # the first writes the cache, the second hits it


def test_cache_entries_expire_after_their_ttl_from_their_last_use() -> None:
    cache = PromptCache(min_tokens=10, ttl=0.2)
    body = {"system": [{"text": "x" * 400}, CACHE_POINT], "messages": user("q")}
    assert cache.use(MODEL_ID, body) == (0, 100)
    time.sleep(0.12)
    assert cache.use(MODEL_ID, body) == (100, 0)  # a hit renews the entry
    time.sleep(0.12)
    assert cache.use(MODEL_ID, body) == (100, 0)
    time.sleep(0.3)
    assert cache.use(MODEL_ID, body) == (0, 100)


def test_a_reply_longer_than_max_tokens_is_cut_with_that_stop_reason(
    server: FakeBedrock, client: Any
) -> None:
    server.enqueue(Reply(text="하나 둘 셋 넷 다섯"), Reply(text="하나 둘"))
    cut = client.converse(
        modelId=MODEL_ID, messages=user("세어 봐"), inferenceConfig={"maxTokens": 3}
    )
    assert cut["output"]["message"]["content"][0]["text"] == "하나 둘 셋 "
    assert cut["stopReason"] == "max_tokens" and cut["usage"]["outputTokens"] == 3
    events = client.converse_stream(
        modelId=MODEL_ID, messages=user("세어 봐"), inferenceConfig={"maxTokens": 3}
    )["stream"]
    stops = [e["messageStop"]["stopReason"] for e in events if "messageStop" in e]
    assert stops == ["end_turn"]
