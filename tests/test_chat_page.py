"""The chat page through Streamlit's AppTest, with the real stack on the loopback Bedrock."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from chatbot.store.base import StoreError
from chatbot.store.sqlite import SqliteStore
from chatbot.ui import resources
from loopback.bedrock import FakeBedrock, Reply
from tests.factories import eventually

APP = str(Path(__file__).parents[1] / "app.py")
SEOUL = "서울을 여행하고 싶어. 무엇을 타고 여행하는것이 좋을까?"
FARE = "그럼 그 도시에서 지하철 요금은 얼마야?"
TRANSFER = "그럼 환승도 가능해?"


def open_app(user: str | None = "alice") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    if user:
        at.query_params["user"] = user
    return at.run()


def send(at: AppTest, text: str) -> AppTest:
    return at.chat_input[0].set_value(text).run()


def shown(at: AppTest) -> list[tuple[str, str]]:
    """(role, text) of every chat message on the page."""
    return [
        (message.name, "\n".join(m.value for m in message.markdown)) for message in at.chat_message
    ]


def sent_texts(bedrock: FakeBedrock) -> list[str]:
    return [m["content"][0]["text"] for m in bedrock.requests[-1].body["messages"]]


def store_rows(user: str = "alice") -> list:
    import os

    store = SqliteStore(os.environ["CHAT_HISTORY_DB"])
    return store.user_dialogs(user, datetime.now(UTC) - timedelta(hours=1))


def test_without_a_user_id_the_page_asks_for_one_and_says_there_is_no_sign_in() -> None:
    at = open_app(user=None)
    assert not at.exception
    assert "no sign-in" in at.warning[0].value
    assert "Enter a user id" in at.info[0].value
    assert len(at.chat_input) == 0


def test_an_invalid_user_id_is_refused() -> None:
    at = open_app(user="../etc/passwd")
    assert "user id is 1-64 characters" in at.error[0].value
    assert len(at.chat_input) == 0


def test_a_korean_question_streams_an_answer_that_is_shown_and_stored(
    bedrock: FakeBedrock,
) -> None:
    bedrock.enqueue(Reply(text="지하철과 버스가 편리합니다.", ttft=0.05))
    at = send(open_app(), SEOUL)
    assert not at.exception
    assert shown(at) == [("user", SEOUL), ("assistant", "지하철과 버스가 편리합니다.")]
    assert "first token" in at.chat_message[1].caption[0].value
    [row] = store_rows()
    assert (row.body, row.msg, row.status, row.mode) == (
        SEOUL,
        "지하철과 버스가 편리합니다.",
        "complete",
        "normal",
    )


def test_follow_up_questions_reach_the_model_with_the_earlier_exchanges(
    bedrock: FakeBedrock,
) -> None:
    at = open_app()
    for question in (SEOUL, FARE, TRANSFER):
        at = send(at, question)
    assert sent_texts(bedrock) == [SEOUL, f"답변: {SEOUL}", FARE, f"답변: {FARE}", TRANSFER]
    assert len(shown(at)) == 6


def test_a_follow_up_reads_the_conversation_from_the_prompt_cache_and_says_so(
    bedrock: FakeBedrock,
) -> None:
    long_answer = "서울의 지하철은 노선이 많고 편리합니다. " * 100  # 5,700 bytes
    bedrock.enqueue(*[Reply(text=long_answer)] * 3)
    at = open_app()
    for question in (SEOUL, FARE, TRANSFER):
        at = send(at, question)
    captions = [message.caption[0].value for message in at.chat_message[1::2]]
    rows = store_rows()
    assert "cache" not in captions[0]  # nothing to cache before there is a window
    written = rows[1].cache_write_tokens
    assert rows[1].cache_read_tokens == 0 and written > 0
    assert f"0 read from the cache · {written} written to it" in captions[1]
    # The third turn reads what the second wrote (its window is the second's plus one).
    assert rows[2].cache_read_tokens == written
    assert f"of the input, {written} read from the cache" in captions[2]


def test_a_translation_turn_does_not_enter_the_memory(bedrock: FakeBedrock) -> None:
    at = send(open_app(), SEOUL)
    at.selectbox(key="mode").set_value("translation").run()
    bedrock.enqueue(Reply(text="<result>Thank you for using Amazon Bedrock.</result>"))
    at = send(at, "아마존 베드락을 이용해 주셔서 감사합니다.")
    assert shown(at)[-1] == ("assistant", "Thank you for using Amazon Bedrock.")
    at.selectbox(key="mode").set_value("normal").run()
    at = send(at, FARE)
    assert sent_texts(bedrock) == [SEOUL, f"답변: {SEOUL}", FARE]


def test_a_new_session_replays_stored_dialogs_and_remembers_them(bedrock: FakeBedrock) -> None:
    send(open_app(), SEOUL)
    again = open_app()
    assert shown(again) == [("user", SEOUL), ("assistant", f"답변: {SEOUL}")]
    assert "Dialogs replayed from the last 2 days: 1." in again.caption[0].value
    send(again, FARE)
    assert sent_texts(bedrock) == [SEOUL, f"답변: {SEOUL}", FARE]
    assert shown(open_app(user="bob")) == []  # nobody else's dialogs


def test_new_chat_clears_the_screen_and_memory_and_survives_a_reload(
    bedrock: FakeBedrock,
) -> None:
    at = send(open_app(), SEOUL)
    at.sidebar.button(key="new_chat").click().run()
    assert shown(at) == []
    assert shown(open_app()) == []
    send(at, FARE)
    assert sent_texts(bedrock) == [FARE]
    assert len(store_rows()) == 2  # the stored history is kept


def test_a_refused_call_shows_why_and_one_click_retries(bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Reply(fault="model_not_enabled"))
    at = send(open_app(), SEOUL)
    assert not at.exception
    assert "활성화되지 않았습니다" in at.error[0].value  # in the language of the question
    assert shown(at)[0] == ("user", SEOUL)
    at.button(key=f"retry-{store_rows()[0].request_id}").click().run()
    assert shown(at)[-1] == ("assistant", f"답변: {SEOUL}")
    assert [row.status for row in store_rows()] == ["error", "complete"]


def test_without_credentials_the_page_says_how_to_configure_access(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    # A closed loopback port: even a mistake could not reach AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:9")
    at = send(open_app(), "hello")
    assert not at.exception
    assert "No AWS credentials were found" in at.error[0].value


def test_without_a_region_the_page_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    at = send(open_app(), "안녕")
    assert not at.exception
    assert "BEDROCK_REGION" in at.error[0].value


def bedrock_unreachable(monkeypatch: pytest.MonkeyPatch, region: str) -> None:
    """Credentials, one attempt, and a closed loopback port as Bedrock's endpoint."""
    for name, value in {
        "BEDROCK_REGION": region,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": "http://127.0.0.1:9",
        "AWS_MAX_ATTEMPTS": "1",
    }.items():
        monkeypatch.setenv(name, value)


def test_unreachable_bedrock_is_a_message_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bedrock_unreachable(monkeypatch, "us-east-1")
    at = send(open_app(), "hello")
    assert not at.exception
    assert "cannot be reached" in at.error[0].value


def test_too_long_input_is_refused_before_any_model_call_and_shown_back(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_MAX_INPUT_CHARS", "10")
    at = send(open_app(), "이 질문은 열 글자보다 깁니다")
    assert "한 번에 10자까지" in at.error[0].value
    assert at.code[0].value == "이 질문은 열 글자보다 깁니다"
    assert bedrock.requests == [] and store_rows() == []


def test_whitespace_only_input_is_ignored(bedrock: FakeBedrock) -> None:
    at = send(open_app(), "   \n ")
    assert shown(at) == [] and bedrock.requests == []


def test_an_uploaded_file_is_summarised(bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Reply(text="베드락 소개 문서입니다."))
    at = open_app()
    at.chat_input[0].upload(
        "소개.txt", "아마존 베드락은 생성형 AI 서비스입니다.".encode(), "text/plain"
    )
    at.run()
    assert shown(at) == [("user", "📎 소개.txt"), ("assistant", "베드락 소개 문서입니다.")]
    [row] = store_rows()
    assert (row.type, row.body, row.mode) == ("document", "소개.txt", "summary")


def test_an_unreadable_file_gets_a_message_and_no_model_call(bedrock: FakeBedrock) -> None:
    at = open_app()
    at.chat_input[0].upload("report.pdf", b"%PDF-1.7 not really a pdf", "application/pdf")
    at.run()
    assert "cannot be read" in at.error[0].value
    assert bedrock.requests == [] and store_rows() == []


def test_feedback_on_an_answer_is_stored(bedrock: FakeBedrock) -> None:
    at = send(open_app(), SEOUL)
    at.feedback[0].set_value(1).run()
    assert store_rows()[0].feedback == "up"


def test_a_bad_setting_is_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHAT_WINDOW_K", "many")
    at = open_app()
    assert not at.exception
    assert "CHAT_WINDOW_K" in at.error[0].value


def test_delete_my_history_asks_first_then_deletes_and_reports_the_count(
    bedrock: FakeBedrock,
) -> None:
    at = open_app()
    for question in (SEOUL, FARE):
        at = send(at, question)
    send(open_app(user="bob"), "hello")
    at.sidebar.button(key="delete_history").click().run()
    assert len(store_rows()) == 2  # nothing deleted before the confirmation
    at.button(key="delete_yes").click().run()
    assert "Deleted 2 stored dialogs." in at.success[0].value
    assert store_rows() == [] and shown(at) == []
    assert len(store_rows("bob")) == 1


def test_delete_can_be_cancelled(bedrock: FakeBedrock) -> None:
    at = send(open_app(), SEOUL)
    at.sidebar.button(key="delete_history").click().run()
    at.button(key="delete_cancel").click().run()
    assert len(store_rows()) == 1 and len(shown(at)) == 2


def test_throttling_past_the_retries_keeps_the_question_for_one_click(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")
    bedrock.enqueue(Reply(fault="throttle"), Reply(fault="throttle"))
    at = send(open_app(), "Is the subway open?")
    assert len(bedrock.requests) == 2  # botocore retried once, then gave up
    assert "throttling requests" in at.error[0].value
    assert shown(at) == [("user", "Is the subway open?"), ("assistant", "")]
    [row] = store_rows()
    assert (row.status, row.msg) == ("error", "")  # no fake answer is stored
    at.button(key=f"retry-{row.request_id}").click().run()
    assert shown(at)[-1] == ("assistant", "답변: Is the subway open?")


def test_a_stream_broken_midway_keeps_the_partial_answer(bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Reply(text="하나 둘 셋 넷 다섯", fault="midstream", fault_after=2))
    at = send(open_app(), SEOUL)
    assert shown(at)[-1] == ("assistant", "하나 둘")
    assert "연결이 끊겼습니다" in at.error[0].value
    [row] = store_rows()
    assert (row.status, row.msg) == ("incomplete", "하나 둘")


def test_a_store_outage_keeps_the_answer_and_saves_it_when_the_store_is_back(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(self, dialog) -> None:
        raise StoreError("the store is down")

    at = open_app()
    with monkeypatch.context() as outage:
        outage.setattr(SqliteStore, "put", down)
        at = send(at, SEOUL)
        assert shown(at)[-1] == ("assistant", f"답변: {SEOUL}")
        assert any("대기열" in w.value for w in at.warning)
        assert store_rows() == []
        at.run()  # page runs never write: they report what waits
        assert any("waiting to be saved: 1" in c.value for c in at.caption)
        assert store_rows() == []
    # The outbox's writer tries again after its back-off, with no page run needed.
    [row] = eventually(store_rows)
    assert row.msg == f"답변: {SEOUL}"


def test_a_region_without_bedrock_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    bedrock_unreachable(monkeypatch, "xx-nowhere-1")
    at = send(open_app(), "hello")
    assert "not found in region xx-nowhere-1" in at.error[0].value


def test_secrets_never_reach_the_page_or_the_log(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    secret, key_id = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRETKEY", "AKIAIOSFODNN7SECRETID"
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key_id)
    bedrock.enqueue(Reply(fault="expired_token"), Reply(fault="access_denied"))
    with caplog.at_level("DEBUG", logger="chatbot"):
        at = send(send(open_app(), "first"), "second")
    page = " ".join(e.value for e in (*at.error, *at.markdown, *at.caption, *at.warning))
    assert "expired or invalid" in page and "not allowed" in page
    for value in (secret, key_id):
        assert value not in page and value not in caplog.text


def test_the_models_of_the_region_are_listed_on_request(bedrock: FakeBedrock) -> None:
    at = open_app()
    assert len(at.sidebar.dataframe) == 0  # no control-plane call until asked
    at.sidebar.button(key="list_models").click().run()
    models = at.sidebar.dataframe[0].value
    assert "anthropic.claude-sonnet-4-5-20250929-v1:0" in set(models["model_id"])
    assert bedrock.requests[-1].operation == "list-foundation-models"


def test_listing_models_without_access_says_why(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    at = open_app()
    at.sidebar.button(key="list_models").click().run()
    assert not at.exception
    assert "cannot be reached" in at.sidebar.error[0].value


def test_the_sidebar_counts_the_exchanges_in_the_window(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_WINDOW_K", "2")
    at = open_app()
    for question in (SEOUL, FARE, TRANSFER):
        at = send(at, question)
    assert "the last 2 exchanges (2 in use)" in at.sidebar.caption[0].value
    at.selectbox(key="mode").set_value("pii").run()
    assert "neither reads nor feeds" in at.sidebar.caption[0].value


@pytest.mark.parametrize(
    ("fault", "said"), [("server_error", "InternalServerException"), ("unavailable", "Service")]
)
def test_bedrock_5xx_past_the_retries_is_a_message(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch, fault: str, said: str
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    bedrock.enqueue(Reply(fault=fault))
    at = send(open_app(), "Is the subway open?")
    assert not at.exception
    assert "could not answer right now" in at.error[0].value and said in at.error[0].value
    [row] = store_rows()
    assert (row.status, row.msg) == ("error", "")


def test_retry_is_offered_only_under_the_last_question(bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Reply(fault="model_not_found"))
    at = send(open_app(), "first")
    failed = store_rows()[0].request_id
    assert at.button(key=f"retry-{failed}")
    at = send(at, "second")
    assert shown(at)[-1] == ("assistant", "답변: second")
    assert not [b for b in at.button if b.key == f"retry-{failed}"]


def test_a_file_name_of_any_length_is_capped_and_the_dialog_stored(bedrock: FakeBedrock) -> None:
    # 420 KB of name: over DynamoDB's item limit on its own, once the whole dialog jammed the
    # outbox. The name is capped; anything else too large is trimmed with a flag (store tests).
    name = "계약서" * 47_000 + ".txt"
    at = open_app()
    at.chat_input[0].upload(name, "계약 기간은 2년입니다.".encode(), "text/plain")
    at.run()
    [row] = store_rows()
    assert len(row.body) == 255 and row.body.endswith("….txt") and row.status == "complete"


def test_queued_dialogs_are_deleted_with_the_history(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = send(open_app(), SEOUL)

    def down(self, dialog) -> None:
        raise StoreError("the store is down")

    with monkeypatch.context() as outage:
        outage.setattr(SqliteStore, "put", down)
        at = send(at, FARE)  # queued in the outbox
        at.sidebar.button(key="delete_history").click().run()
        at.button(key="delete_yes").click().run()
    assert "Deleted 2 stored dialogs." in at.success[0].value
    outbox = resources.outbox(resources.settings())
    assert outbox.drain() == 0 and store_rows() == []  # nothing comes back


@pytest.mark.parametrize("broken", ["damaged", "unwritable"])
def test_a_broken_outbox_keeps_the_chat_working_and_says_so_once(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, broken: str
) -> None:
    if broken == "damaged":
        Path(os.environ["CHAT_OUTBOX_DB"]).write_bytes(b"\x00 not a database " * 64)
    else:
        (tmp_path / "a-file").write_text("not a folder")
        monkeypatch.setenv("CHAT_OUTBOX_DB", str(tmp_path / "a-file" / "outbox.sqlite3"))
    at = open_app()
    assert not at.exception and len(at.chat_input) == 1
    assert [w.value for w in at.warning if "outbox" in w.value.lower()]
    at = send(at, SEOUL)
    assert shown(at)[-1] == ("assistant", f"답변: {SEOUL}")
    assert not [w.value for w in at.warning if "outbox" in w.value.lower()]  # said once
    [row] = store_rows()
    assert row.body == SEOUL
