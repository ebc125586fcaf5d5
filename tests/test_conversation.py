"""A turn end to end: the real langchain-aws and boto3 stack against the loopback Bedrock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import NoRegionError

from chatbot import llm
from chatbot.access import AccessDenied, UserHistory
from chatbot.config import Settings
from chatbot.conversation import (
    Turn,
    TurnContext,
    can_continue,
    chat_turn,
    continue_turn,
    document_turn,
)
from chatbot.errors import Problem, classify
from chatbot.identity import Identity
from chatbot.memory import remember
from chatbot.modes import MODES
from chatbot.store.base import Dialog
from chatbot.store.outbox import Outbox
from chatbot.store.sqlite import SqliteStore
from loopback.bedrock import FakeBedrock, Reply
from tests.factories import make_dialog

MODEL_ID = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
MAX_OUTPUT = Settings().chat_max_output_tokens  # the app's default output limit


@pytest.fixture
def model(bedrock: FakeBedrock):
    built = llm.chat_model(llm.bedrock_runtime_client("us-east-1"), MODEL_ID, MAX_OUTPUT)
    return lambda: built


@pytest.fixture
def memory() -> list:
    return []


def turn(model, memory, question: str, mode: str = "normal", window_k: int = 10) -> Turn:
    context = TurnContext(
        model, MODEL_ID, "alice", "s1", memory=memory, window_k=window_k, conversation_id="c1"
    )
    return chat_turn(context, MODES[mode], question)


def finish(current: Turn, store: SqliteStore, memory: list) -> Dialog:
    """What the chat page does once a stream ends: store the dialog and feed the memory."""
    dialog = current.to_dialog()
    store.put(dialog)
    remember(memory, dialog)
    return dialog


def stored(store: SqliteStore) -> list:
    return store.user_dialogs("alice", datetime.now(UTC) - timedelta(hours=1))


def test_a_turn_streams_and_is_stored_with_usage_and_timings(
    bedrock: FakeBedrock, model, memory, store: SqliteStore
) -> None:
    bedrock.enqueue(Reply(text="서울에서는 지하철이 편리합니다.", ttft=0.05))
    current = turn(model, memory, "서울을 여행하고 싶어. 무엇을 타고 여행하는것이 좋을까?")
    pieces = list(current.stream())
    assert len(pieces) > 1 and "".join(pieces) == "서울에서는 지하철이 편리합니다."
    dialog = finish(current, store, memory)
    assert stored(store) == [dialog]
    assert dialog.status == "complete" and dialog.msg == "서울에서는 지하철이 편리합니다."
    assert dialog.type == "text" and dialog.mode == "normal" and dialog.model_id == MODEL_ID
    assert dialog.input_tokens > 0 and dialog.output_tokens == len(pieces)
    assert 50 <= dialog.ttft_ms <= dialog.latency_ms
    request = bedrock.requests[-1]
    assert request.operation == "converse-stream" and request.model_id == MODEL_ID
    assert "서연" in request.body["system"][0]["text"]
    assert request.body["inferenceConfig"] == {"maxTokens": 8192, "temperature": 0.1}


def test_follow_up_questions_carry_the_earlier_exchanges(
    bedrock: FakeBedrock, model, memory, store: SqliteStore
) -> None:
    questions = [
        "서울을 여행하고 싶어. 무엇을 타고 여행하는것이 좋을까?",
        "그럼 그 도시에서 지하철 요금은 얼마야?",
        "그럼 환승도 가능해?",
    ]
    for question in questions:
        current = turn(model, memory, question)
        list(current.stream())
        finish(current, store, memory)
    sent = bedrock.requests[-1].body["messages"]
    assert [m["role"] for m in sent] == ["user", "assistant"] * 2 + ["user"]
    assert [m["content"][0]["text"] for m in sent[::2]] == questions
    assert sent[1]["content"][0]["text"] == f"답변: {questions[0]}"


def test_the_window_sends_only_the_last_k_exchanges(
    bedrock: FakeBedrock, model, memory, store: SqliteStore
) -> None:
    for i in range(3):
        current = turn(model, memory, f"question {i}", window_k=1)
        list(current.stream())
        finish(current, store, memory)
    texts = [m["content"][0]["text"] for m in bedrock.requests[-1].body["messages"]]
    assert texts == ["question 1", "답변: question 1", "question 2"]


def test_a_translation_neither_reads_nor_feeds_the_memory(
    bedrock: FakeBedrock, model, memory, store: SqliteStore
) -> None:
    chat = turn(model, memory, "안녕하세요")
    list(chat.stream())
    finish(chat, store, memory)
    bedrock.enqueue(Reply(text="Sure: <result>Thank you for using Amazon Bedrock.</result>"))
    translation = turn(model, memory, "아마존 베드락을 이용해 주셔서 감사합니다.", "translation")
    assert "".join(translation.stream()) == "Thank you for using Amazon Bedrock."
    dialog = finish(translation, store, memory)
    assert dialog.msg == "Thank you for using Amazon Bedrock." and dialog.mode == "translation"
    sent = bedrock.requests[-1].body["messages"]
    assert len(sent) == 1 and sent[0]["content"][0]["text"].startswith("<article>")
    assert [m.content for m in memory] == ["안녕하세요", "답변: 안녕하세요"]


def test_a_failure_midway_keeps_the_partial_answer_as_incomplete(
    bedrock: FakeBedrock, model, memory, store: SqliteStore
) -> None:
    bedrock.enqueue(Reply(text="one two three four", fault="midstream", fault_after=2))
    current = turn(model, memory, "question")
    assert "".join(current.stream()) == "one two "
    dialog = finish(current, store, memory)
    assert dialog.status == "incomplete" and dialog.msg == "one two"
    assert classify(current.error) == dialog.error_kind == Problem.STREAM_FAILED
    assert memory == []  # a broken answer does not become context
    assert stored(store) == [dialog]


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("access_denied", Problem.ACCESS_DENIED),
        ("model_not_enabled", Problem.MODEL_NOT_ENABLED),
        ("expired_token", Problem.EXPIRED_CREDENTIALS),
        ("model_not_found", Problem.MODEL_NOT_FOUND),
        ("validation", Problem.MODEL_INVALID),
    ],
)
def test_a_refused_call_is_stored_as_an_error_without_an_answer(
    bedrock: FakeBedrock, model, memory, store: SqliteStore, fault: str, problem: Problem
) -> None:
    bedrock.enqueue(Reply(fault=fault))
    current = turn(model, memory, "question")
    assert list(current.stream()) == []
    dialog = finish(current, store, memory)
    assert classify(current.error) == problem
    assert dialog.status == "error" and dialog.msg == "" and dialog.body == "question"
    assert dialog.error_kind == problem  # what the History page counts errors by


def test_throttling_is_retried_by_botocore(
    bedrock: FakeBedrock, model, memory, store: SqliteStore
) -> None:
    bedrock.enqueue(Reply(fault="throttle"), Reply(text="finally"))
    current = turn(model, memory, "question")
    assert "".join(current.stream()) == "finally"
    assert finish(current, store, memory).status == "complete"
    assert len(bedrock.requests) == 2


def test_stopping_keeps_what_arrived_as_stopped(
    bedrock: FakeBedrock, model, memory, store: SqliteStore
) -> None:
    bedrock.enqueue(Reply(text="a b c d e f g h", token_delay=0.01))
    current = turn(model, memory, "question")
    stream = current.stream()
    first = [next(stream), next(stream)]
    current.stop()  # what the page does once Streamlit's stop ends st.write_stream
    dialog = finish(current, store, memory)
    assert dialog.status == "stopped" and dialog.msg == "".join(first).strip()
    assert dialog.latency_ms is not None  # the stream was closed, not left hanging
    assert stored(store) == [dialog] and memory == []
    current.stop()  # stopping again, or after the end, changes nothing
    assert current.to_dialog() == dialog


def test_a_turn_still_streaming_is_not_a_dialog(bedrock: FakeBedrock, model, memory) -> None:
    current = turn(model, memory, "question")
    stream = current.stream()
    next(stream)
    with pytest.raises(RuntimeError, match="still streaming"):
        current.to_dialog()
    stream.close()  # abandoned: stopped where it was
    assert current.to_dialog().status == "stopped"


def test_to_dialog_has_no_side_effects(bedrock: FakeBedrock, model, memory, store) -> None:
    current = turn(model, memory, "question")
    list(current.stream())
    assert current.to_dialog() == current.to_dialog()
    assert stored(store) == [] and memory == []


def test_a_dialog_of_another_user_is_refused_not_queued(
    bedrock: FakeBedrock, model, memory, store: SqliteStore, tmp_path
) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", store)
    bob = UserHistory(store, Identity(user_id="bob", analyst=False), outbox)
    current = turn(model, memory, "question")  # alice's turn
    list(current.stream())
    with pytest.raises(AccessDenied):
        bob.save(current.to_dialog())
    assert outbox.pending() == 0 and stored(store) == []
    outbox.close()


def test_a_model_that_cannot_be_built_fails_the_turn_not_the_page(
    memory, store: SqliteStore
) -> None:
    def no_region():
        raise NoRegionError()

    current = turn(no_region, memory, "question")
    assert list(current.stream()) == []
    assert classify(current.error) == Problem.NO_REGION
    assert finish(current, store, memory).status == "error"


def test_a_document_summary_is_a_document_dialog(
    bedrock: FakeBedrock, model, memory, store: SqliteStore
) -> None:
    bedrock.enqueue(Reply(text="요약: 베드락 소개"))
    context = TurnContext(model, MODEL_ID, "alice")
    current = document_turn(context, "소개.txt", "아마존 베드락은 생성형 AI 서비스입니다.")
    assert "".join(current.stream()) == "요약: 베드락 소개"
    dialog = finish(current, store, memory)
    assert (dialog.type, dialog.body, dialog.mode) == ("document", "소개.txt", "summary")
    assert "<document>" in bedrock.requests[-1].body["messages"][0]["content"][0]["text"]
    assert memory == []


def _cache_points(request) -> int:
    blocks = [*request.body.get("system", [])]
    for message in request.body["messages"]:
        blocks += message["content"]
    return sum("cachePoint" in block for block in blocks)


@pytest.mark.parametrize("prompt_cache", [True, False])
def test_a_conversation_reads_its_window_from_the_prompt_cache_and_stores_the_counts(
    bedrock: FakeBedrock, model, memory, store: SqliteStore, prompt_cache: bool
) -> None:
    answer = "서울의 지하철은 노선이 많고 편리합니다. " * 100  # 2,300 characters, 5,700 bytes
    dialogs = []
    for index in range(4):
        bedrock.enqueue(Reply(text=answer))
        context = TurnContext(
            model,
            MODEL_ID,
            "alice",
            "s1",
            memory=memory,
            window_k=10,
            prompt_cache=prompt_cache,
            conversation_id="c1",
        )
        current = chat_turn(context, MODES["normal"], f"질문 {index}")
        list(current.stream())
        dialogs.append(finish(current, store, memory))
    assert stored(store) == dialogs
    if not prompt_cache:
        assert all(_cache_points(request) == 0 for request in bedrock.requests)
        assert all(d.cache_read_tokens == d.cache_write_tokens == 0 for d in dialogs)
        return
    # Turn 1 has no window; from turn 2 the window's end carries a point, and from turn 3
    # the previous turn's cached prefix is read.
    assert [_cache_points(request) for request in bedrock.requests] == [0, 1, 1, 1]
    assert dialogs[1].cache_read_tokens == 0 and dialogs[1].cache_write_tokens > 0
    assert all(d.cache_read_tokens > 0 and d.cache_write_tokens > 0 for d in dialogs[2:])
    # Langchain's input_tokens is the whole prompt: billed in full, read and written.
    assert all(d.input_tokens > d.cache_read_tokens + d.cache_write_tokens for d in dialogs[2:])


def test_an_answer_cut_by_the_output_limit_is_stored_as_cut_with_the_stop_reason(
    bedrock: FakeBedrock, model, memory, store: SqliteStore
) -> None:
    bedrock.enqueue(Reply(text="긴 답변의 앞부분", stop_reason="max_tokens"))
    current = turn(model, memory, "아주 길게 설명해 줘")
    assert "".join(current.stream()) == "긴 답변의 앞부분"
    dialog = finish(current, store, memory)
    assert (dialog.status, dialog.stop_reason) == ("cut", "max_tokens")
    assert stored(store) == [dialog]
    bedrock.enqueue(Reply(text="끝까지 한 답변"))
    complete = turn(model, memory, "짧게")
    list(complete.stream())
    assert (complete.status, complete.stop_reason) == ("complete", "end_turn")


def test_continue_carries_on_a_cut_answer_as_the_same_dialog(
    bedrock: FakeBedrock, model, memory, store: SqliteStore
) -> None:
    bedrock.enqueue(Reply(text="1. 경복궁\n2. 창덕궁 ", stop_reason="max_tokens"))
    first = turn(model, memory, "서울 궁궐을 알려 줘")
    list(first.stream())
    cut = finish(first, store, memory)
    assert can_continue(cut) and not can_continue(cut._replace(mode="translation"))
    bedrock.enqueue(Reply(text="\n3. 덕수궁"))
    context = TurnContext(
        model, MODEL_ID, "alice", "s1", memory=memory, window_k=10, conversation_id="c1"
    )
    carried = continue_turn(context, cut)
    assert "".join(carried.stream()) == "\n3. 덕수궁"  # only the new text streams
    request = bedrock.requests[-1].body["messages"]
    assert [m["role"] for m in request] == ["user", "assistant"]  # the cut exchange, once
    assert request[-1]["content"][0]["text"] == "1. 경복궁\n2. 창덕궁"  # no trailing space
    dialog = carried.to_dialog()
    assert (dialog.request_time, dialog.request_id) == (cut.request_time, cut.request_id)
    assert dialog.msg == "1. 경복궁\n2. 창덕궁\n3. 덕수궁" and dialog.status == "complete"
    assert dialog.output_tokens == cut.output_tokens + 3  # a newline, "3. ", "덕수궁"
    assert dialog.latency_ms >= cut.latency_ms and dialog.ttft_ms == cut.ttft_ms
    store.put(dialog)
    assert stored(store) == [dialog]  # stored over the cut one


def test_follow_ups_read_a_long_file_from_the_prompt_cache(
    bedrock: FakeBedrock, model, memory
) -> None:
    contract = make_dialog(type="document", body="계약서.txt", document_text="계약 조항. " * 1000)
    context = TurnContext(
        model, MODEL_ID, "alice", "s1", memory=memory, window_k=10, files=[contract]
    )
    dialogs = []
    for question in ("통지 기간은?", "계약 기간은?"):
        current = chat_turn(context, MODES["normal"], question)
        list(current.stream())
        dialogs.append(current.to_dialog())
    system = bedrock.requests[-1].body["system"]
    assert "계약 조항." in system[0]["text"] and system[-1] == {"cachePoint": {"type": "default"}}
    assert dialogs[0].cache_write_tokens > 0 and dialogs[0].cache_read_tokens == 0
    assert dialogs[1].cache_read_tokens == dialogs[0].cache_write_tokens  # not paid again
