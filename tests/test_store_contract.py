"""The contract every store backend keeps, run against SQLite and against DynamoDB (moto's
server on loopback, reached by real boto3 over HTTP)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatbot import rollups
from chatbot.rollups import (
    DEFAULT_REPORT_TIMEZONE,
    CellFilter,
    day_bounds,
    tally,
    user_rollups,
)
from chatbot.store.base import (
    DYNAMODB_ITEM_BYTES,
    MAX_DIALOG_BYTES,
    TRIM_MARK,
    Conversation,
    Dialog,
    DialogQuery,
    DialogStore,
    MissingConversation,
    MissingDialog,
    Rating,
    Status,
    conversation_of,
    dialog_bytes,
    fit,
    parse_request_time,
)
from chatbot.store.create_table import backfill_day, create_table
from chatbot.store.dynamodb import DynamoStore, dynamodb_client
from chatbot.store.outbox import Outbox
from chatbot.store.sqlite import SqliteStore
from loopback.dynamodb import MotoDynamo
from tests.factories import NOW, eventually, make_dialog

# What an item of the original system has none of.
WITHOUT_OPTIONAL_FIELDS: dict[str, None] = dict.fromkeys(
    (
        "mode",
        "model_id",
        "input_tokens",
        "output_tokens",
        "ttft_ms",
        "latency_ms",
        "session_id",
        "cache_read_tokens",
        "cache_write_tokens",
    )
)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "dynamodb"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> DialogStore:
    if request.param == "sqlite":
        return SqliteStore(tmp_path / "store.sqlite3")
    server: MotoDynamo = request.getfixturevalue("moto_server")
    server.reset()  # keeps the server's memory small: some tests write megabytes
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    dynamo = DynamoStore(f"dialogs-{uuid.uuid4().hex[:8]}")  # endpoint and region: the env
    # The tests' own client: creating tables is not the app's call (tests/test_iam_policy.py).
    assert create_table(dynamodb_client(user_agent="tests"), dynamo.table_name)
    return dynamo


def table(
    store: DialogStore,
    since: datetime,
    until: datetime,
    user_id: str | None = None,
    text: str = "",
    page: int = 3,
    **filters: list[str],
) -> list[Dialog]:
    """Every dialog of an analysts' query, whole, oldest first, read ``page`` at a time."""
    query = DialogQuery(since, until, CellFilter(**filters), user_id, text)  # type: ignore[arg-type]
    dialogs: list[Dialog] = []
    cursor: str | None = None
    for _ in range(200):  # bounded: a cursor that never ends fails the test, not the run
        got = store.dialog_page(query, page, cursor, text_chars=None)
        assert len(got.dialogs) <= page
        dialogs.extend(got.dialogs)
        if (cursor := got.cursor) is None:
            return dialogs[::-1]
    raise AssertionError("the table's cursor never reached the end")


def put_legacy(store: DialogStore, written: Dialog) -> None:
    """Write a dialog the way the original system did: only its six attributes."""
    if isinstance(store, DynamoStore):
        store.client.put_item(
            TableName=store.table_name,
            Item={
                name: {"S": getattr(written, name)}
                for name in ("user_id", "request_time", "request_id", "type", "body", "msg")
            },
        )
    else:
        store.put(written)


def test_every_field_round_trips(store: DialogStore) -> None:
    # 300 KB of UTF-8: under DynamoDB's 400 KB item limit, though Korean is 3 bytes a char.
    unit = "한국어 질문입니다 🚇 émoji ✓ "
    body = unit * (300_000 // len(unit.encode()))
    assert 250_000 < len(body.encode()) < 350_000
    written = make_dialog(
        body=body,
        msg="답변 " * 5000,
        feedback="up",
        status=Status.INCOMPLETE,
        error_kind="stream_failed",
        cost_microusd=4321,
    )
    store.put(written)
    (got,) = store.user_dialogs("alice", NOW - timedelta(seconds=1))
    assert got == written
    # Decimal(12) == 12, so equality alone would let DynamoDB's Decimals through.
    counts = (got.input_tokens, got.output_tokens, got.ttft_ms, got.latency_ms)
    counts += (got.cache_read_tokens, got.cache_write_tokens)
    assert all(type(value) is int for value in counts)


def test_a_dialog_over_the_item_limit_is_kept_trimmed_with_a_flag(store: DialogStore) -> None:
    # A 420 KB file name (the user controls it) and a long Korean answer: over DynamoDB's
    # 400 KB even after the page caps the name; fit() makes any dialog storable.
    huge = make_dialog(body="파" * 140_000 + ".pdf", msg="요약 " * 40_000)
    assert dialog_bytes(huge) > DYNAMODB_ITEM_BYTES
    kept = fit(huge)
    assert dialog_bytes(kept) <= MAX_DIALOG_BYTES and kept.trimmed_chars
    assert kept.body.endswith(TRIM_MARK) and kept.msg.endswith(TRIM_MARK)
    lost = len(huge.body) + len(huge.msg) - len(kept.body) - len(kept.msg)
    assert kept.trimmed_chars == lost + 2 * len(TRIM_MARK)
    store.put(kept)
    assert store.user_dialogs("alice", NOW - timedelta(seconds=1)) == [kept]
    small = make_dialog()
    assert fit(small) is small  # a dialog that fits is left alone


def test_rating_a_dialog_that_does_not_exist_says_so(store: DialogStore) -> None:
    with pytest.raises(MissingDialog):
        store.set_feedback("alice", "2026-11-25T09:30:15.123Z#00000000", Rating("up"))


def test_none_fields_round_trip_as_none(store: DialogStore) -> None:
    written = make_dialog(**WITHOUT_OPTIONAL_FIELDS, status="error", msg="")
    store.put(written)
    assert store.user_dialogs("alice", NOW - timedelta(seconds=1)) == [written]


def test_writing_the_same_dialog_twice_keeps_one(store: DialogStore) -> None:
    written = make_dialog()
    store.put(written)
    store.put(written)
    assert store.user_dialogs("alice", NOW - timedelta(days=1)) == [written]


def test_reads_are_per_user_in_time_order_within_the_range(store: DialogStore) -> None:
    times = [NOW - timedelta(days=3), NOW - timedelta(hours=1), NOW, NOW + timedelta(hours=1)]
    for at in reversed(times):
        store.put(make_dialog(at=at))
    store.put(make_dialog(user="bob"))
    got = store.user_dialogs("alice", NOW - timedelta(days=2), until=NOW + timedelta(minutes=1))
    assert [parse_request_time(d.request_time) for d in got] == times[1:3]
    everything = store.user_dialogs("alice", LONG_AGO)
    assert [parse_request_time(d.request_time) for d in everything] == times


def test_two_turns_in_the_same_millisecond_are_both_kept(store: DialogStore) -> None:
    first, second = make_dialog(), make_dialog()
    store.put(first)
    store.put(second)
    got = store.user_dialogs("alice", NOW - timedelta(days=1))
    assert sorted(got, key=lambda d: d.request_id) == sorted(
        [first, second], key=lambda d: d.request_id
    )


def test_more_than_a_megabyte_of_one_users_history_is_read_whole(store: DialogStore) -> None:
    written = [
        make_dialog(at=NOW + timedelta(seconds=i), body=f"{i:02d}" + "x" * 30_000)
        for i in range(40)
    ]
    for item in written:
        store.put(item)
    assert store.user_dialogs("alice", NOW - timedelta(seconds=1)) == written
    assert table(store, NOW, NOW + timedelta(minutes=1), user_id="alice") == written
    assert table(store, NOW, NOW + timedelta(minutes=1)) == written


def test_the_analysts_table_spans_users_and_days(store: DialogStore) -> None:
    since = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
    until = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
    ms = timedelta(milliseconds=1)
    inside = [
        make_dialog(user="alice", at=since),  # since is inclusive
        make_dialog(user="bob", at=since + timedelta(hours=5)),
        make_dialog(user="carol", at=datetime(2026, 11, 3, 0, 0, tzinfo=UTC)),  # midnight
        make_dialog(user="alice", at=datetime(2026, 11, 3, 23, 59, 59, 999000, tzinfo=UTC)),
        make_dialog(user="bob", at=until - ms),
    ]
    outside = [
        make_dialog(user="alice", at=since - ms),
        make_dialog(user="carol", at=until),  # until is exclusive
        make_dialog(user="bob", at=datetime(2026, 11, 1, 13, 0, tzinfo=UTC)),
        make_dialog(user="carol", at=datetime(2026, 11, 5, 11, 0, tzinfo=UTC)),
    ]
    for item in outside + inside:
        store.put(item)
    assert table(store, since, until) == inside
    assert table(store, since, until, user_id="bob") == [inside[1], inside[4]]
    assert table(store, until, until) == []


def test_feedback_is_recorded_and_cleared(store: DialogStore) -> None:
    written = make_dialog()
    store.put(written)
    store.set_feedback("alice", written.request_time, Rating("down", "unhelpful", "너무 일반적"))
    assert store.user_dialogs("alice", NOW - timedelta(days=1)) == [
        written._replace(
            feedback="down", feedback_reason="unhelpful", feedback_comment="너무 일반적"
        )
    ]
    store.set_feedback("alice", written.request_time, Rating("down"))  # the reason taken back
    assert store.user_dialogs("alice", NOW - timedelta(days=1)) == [
        written._replace(feedback="down")
    ]
    store.set_feedback("alice", written.request_time, Rating(None))
    assert store.user_dialogs("alice", NOW - timedelta(days=1)) == [written]


def test_a_new_chat_is_remembered_and_is_not_a_dialog(store: DialogStore) -> None:
    assert store.chat_start("alice") is None
    written = make_dialog()
    store.put(written)
    store.set_chat_start("alice", NOW)
    store.set_chat_start("alice", NOW + timedelta(minutes=5))
    assert store.chat_start("alice") == NOW + timedelta(minutes=5)
    assert store.chat_start("bob") is None
    assert store.user_dialogs("alice", LONG_AGO) == [written]
    assert table(store, LONG_AGO, NOW + timedelta(days=1), user_id="alice") == [written]
    assert table(store, NOW - timedelta(days=1), NOW + timedelta(days=1)) == [written]
    assert store.delete_user("alice") == 1
    assert store.chat_start("alice") is None


def test_delete_user_counts_and_leaves_others_alone(store: DialogStore) -> None:
    for i in range(3):
        store.put(make_dialog(user="alice", at=NOW + timedelta(minutes=i)))
    kept = make_dialog(user="bob")
    store.put(kept)
    store.set_chat_start("bob", NOW)
    assert store.delete_user("alice") == 3
    assert store.user_dialogs("alice", LONG_AGO) == []
    assert store.user_dialogs("bob", LONG_AGO) == [kept]
    assert store.chat_start("bob") == NOW
    assert store.delete_user("alice") == 0
    assert store.delete_user("nobody") == 0


def test_dialogs_of_the_original_system_are_read_by_their_time(store: DialogStore) -> None:
    legacy = make_dialog(
        at=datetime(2023, 12, 5, 18, 26, tzinfo=UTC),
        request_time="2023-12-05 18:26:00",
        conversation_id=None,  # a read always has one: its day's, here
        **WITHOUT_OPTIONAL_FIELDS,
    )
    put_legacy(store, legacy)
    got = store.user_dialogs("alice", datetime(2023, 12, 5, 18, 0, tzinfo=UTC))
    # With no session either, it belongs to its day's conversation.
    legacy = legacy._replace(conversation_id=conversation_of(legacy))
    assert got == [legacy]
    assert got[0].status == Status.COMPLETE and got[0].mode is None
    assert store.user_dialogs("alice", datetime(2023, 12, 5, 18, 27, tzinfo=UTC)) == []
    since, until = datetime(2023, 12, 5, tzinfo=UTC), datetime(2023, 12, 6, tzinfo=UTC)
    assert table(store, since, until, user_id="alice") == [legacy]


_text = st.text(max_size=200)
_tokens = st.none() | st.integers(min_value=0, max_value=10**12)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    at=st.datetimes(
        min_value=datetime(2001, 1, 1),
        max_value=datetime(2099, 12, 31),
        timezones=st.just(UTC),
    ),
    body=_text,
    msg=_text,
    kind=st.sampled_from(["text", "document"]),
    mode=st.none() | st.sampled_from(["normal", "translate", "summary"]),
    model_id=st.none() | st.text(min_size=1, max_size=40),
    input_tokens=_tokens,
    output_tokens=_tokens,
    ttft_ms=_tokens,
    latency_ms=_tokens,
    status=st.sampled_from(list(Status)),
    feedback=st.none() | st.sampled_from(["up", "down"]),
    session_id=st.none() | st.uuids().map(str),
)
def test_any_dialog_round_trips(
    store: DialogStore,
    at: datetime,
    body: str,
    msg: str,
    kind: str,
    mode: str | None,
    model_id: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
    ttft_ms: int | None,
    latency_ms: int | None,
    status: Status,
    feedback: str | None,
    session_id: str | None,
) -> None:
    # The store outlives the examples: a user of its own per example keeps them apart.
    user = f"user-{uuid.uuid4().hex}"
    written = make_dialog(
        user=user,
        at=at,
        body=body,
        msg=msg,
        type=kind,
        mode=mode,
        model_id=model_id,
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        ttft_ms=ttft_ms,
        latency_ms=latency_ms,
        status=status,
        feedback=feedback,
        session_id=session_id,
    )
    store.put(written)
    assert store.user_dialogs(user, parse_request_time(written.request_time)) == [written]


def converse(store: DialogStore, user: str, conversation: str, *minutes: int) -> list[Dialog]:
    """Dialogs of ``conversation`` at NOW + each of ``minutes``, stored; questions "q<minute>"."""
    dialogs = [
        make_dialog(
            user=user, at=NOW + timedelta(minutes=m), conversation_id=conversation, body=f"q{m}"
        )
        for m in minutes
    ]
    for dialog in dialogs:
        store.put(dialog)
    return dialogs


def all_conversations(store: DialogStore, user: str, limit: int) -> list[list[str]]:
    """The ids of every page of the user's list, following the cursor to its end."""
    pages, cursor = [], None
    while True:
        page = store.conversations(user, limit, cursor)
        pages.append([c.conversation_id for c in page.conversations])
        if (cursor := page.cursor) is None:
            return [ids for ids in pages if ids]  # DynamoDB may end on an empty page


def test_conversations_are_listed_newest_first_a_page_at_a_time(store: DialogStore) -> None:
    for index in range(5):
        converse(store, "alice", f"c{index}", 10 * index, 10 * index + 1)
    converse(store, "bob", "b0", 100)
    assert all_conversations(store, "alice", 2) == [["c4", "c3"], ["c2", "c1"], ["c0"]]
    first = store.conversations("alice", 1).conversations[0]
    assert first == Conversation("alice", "c4", "q40", format_request_time_at(store, 41))
    assert first.updated_at == NOW + timedelta(minutes=41)
    assert all_conversations(store, "nobody", 10) == []


def format_request_time_at(store: DialogStore, minute: int) -> str:
    """The request_time of the dialog stored at NOW + ``minute``."""
    (dialog,) = store.user_dialogs(
        "alice", NOW + timedelta(minutes=minute), NOW + timedelta(minutes=minute, seconds=1)
    )
    return dialog.request_time


def test_the_title_is_the_earliest_question_and_updated_the_newest_in_any_order(
    store: DialogStore,
) -> None:
    late, _ = converse(store, "alice", "c1", 5, 1)
    store.put(late)  # written again, as a retry would
    (summary,) = store.conversations("alice", 10).conversations
    assert (summary.title, summary.updated) == ("q1", late.request_time)
    document = make_dialog(type="document", body="계약서 " * 30, conversation_id="c2")
    store.put(document)
    titles = {c.conversation_id: c.title for c in store.conversations("alice", 10).conversations}
    assert titles["c2"] == "📎 " + ("계약서 " * 30)[:59].rstrip() + "…"


def test_a_renamed_conversation_keeps_its_name(store: DialogStore) -> None:
    converse(store, "alice", "c1", 5)
    store.rename_conversation("alice", "c1", "서울 여행 계획")
    converse(store, "alice", "c1", 1, 9)  # an earlier question written late, then a new one
    (summary,) = store.conversations("alice", 10).conversations
    assert summary.title == "서울 여행 계획" and summary.updated_at == NOW + timedelta(minutes=9)
    with pytest.raises(MissingConversation):
        store.rename_conversation("alice", "nope", "x")
    with pytest.raises(MissingConversation):
        store.rename_conversation("bob", "c1", "not bob's")


def test_opening_a_conversation_reads_its_dialogs_and_only_its_users(store: DialogStore) -> None:
    first = converse(store, "alice", "c1", 3, 1)
    converse(store, "alice", "c2", 2)
    converse(store, "bob", "b1", 4)
    assert store.conversation_dialogs("alice", "c1") == sorted(first)
    assert store.conversation_dialogs("bob", "c1") == []  # an id alone opens nothing
    assert store.conversation_dialogs("alice", "nope") == []


def test_deleting_a_conversation_deletes_it_and_nothing_else(store: DialogStore) -> None:
    converse(store, "alice", "c1", 1, 2, 3)
    kept = converse(store, "alice", "c2", 4)
    bobs = converse(store, "bob", "c1", 5)  # the same id, another user's
    assert store.delete_conversation("alice", "c1") == 3
    assert store.conversation_dialogs("alice", "c1") == []
    assert all_conversations(store, "alice", 10) == [["c2"]]
    assert store.user_dialogs("alice", LONG_AGO) == kept
    assert store.conversation_dialogs("bob", "c1") == bobs
    assert store.delete_conversation("alice", "c1") == 0
    assert store.delete_user("alice") == 1
    assert all_conversations(store, "alice", 10) == []


def test_dialogs_written_without_a_conversation_join_their_sessions(store: DialogStore) -> None:
    """Dialogs of the app before conversations, replayed from an old outbox, say."""
    morning = [
        make_dialog(at=NOW + timedelta(minutes=m), conversation_id=None, body=f"q{m}")
        for m in (1, 2)
    ]
    other = make_dialog(at=NOW + timedelta(minutes=3), conversation_id=None, session_id="s2")
    for dialog in (*morning, other):
        store.put(dialog)
    page = store.conversations("alice", 10).conversations
    assert [(c.title, c.conversation_id) for c in page] == [
        (other.body, conversation_of(other)),
        ("q1", conversation_of(morning[0])),
    ]
    assert [d.body for d in store.conversation_dialogs("alice", page[1].conversation_id)] == [
        "q1",
        "q2",
    ]


def test_search_finds_korean_words_inside_longer_words_newest_first(store: DialogStore) -> None:
    said = [
        ("서울지하철요금은 얼마인가요?", "1,400원입니다."),
        ("부산 여행 계획", "해운대와 광안리를 추천합니다."),
        ("지하철 환승은?", "30분 안에 무료로 환승됩니다. Subway transfers are free."),
    ]
    dialogs = [
        make_dialog(at=NOW + timedelta(minutes=i), body=body, msg=msg, conversation_id=f"c{i}")
        for i, (body, msg) in enumerate(said)
    ]
    for dialog in dialogs:
        store.put(dialog)
    store.put(make_dialog(user="bob", body="지하철 노선도", msg="..."))
    store.put(dialogs[1]._replace(superseded_by="x"))  # replaced: out of its conversation

    def bodies(text: str, limit: int = 10) -> list[str]:
        return [d.body for d in store.search("alice", text, limit).dialogs]

    assert bodies("지하철") == [said[2][0], said[0][0]]  # inside 서울지하철요금은 too
    assert bodies("요금") == [said[0][0]]  # two syllables: shorter than a trigram
    assert bodies("환승 무료로") == [said[2][0]]  # every word, in the question or answer
    assert bodies("transfers") == [said[2][0]]
    assert bodies("해운대") == []  # its dialog was replaced
    assert bodies("지하철", limit=1) == [said[2][0]]
    assert bodies("  ") == [] and bodies("없는말") == []
    assert store.search("alice", "지하철", 10).complete
    assert [d.conversation_id for d in store.search("alice", "지하철", 10).dialogs] == ["c2", "c0"]


def test_search_takes_text_literally(store: DialogStore) -> None:
    store.put(make_dialog(body='100% "quoted" a_b NEAR(x)', msg="*"))
    for text in ("100%", '"quoted"', "a_b", "NEAR(x)", "*"):
        assert len(store.search("alice", text, 10).dialogs) == 1, text
    assert store.search("alice", "a%b", 10).dialogs == []


# The analysts' page: rollups kept exact on write, and the table a page at a time.
SEOUL = ZoneInfo(DEFAULT_REPORT_TIMEZONE)
# Two report days around midnight in Seoul (15:00 UTC), and the UTC instants that hold them.
FIRST_DAY, LAST_DAY = "2026-11-25", "2026-11-26"
SPAN = day_bounds(FIRST_DAY, LAST_DAY, SEOUL)
SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "global.anthropic.claude-haiku-4-5-20251001-v1:0"


def assert_rollups_match_a_recount(store: DialogStore) -> None:
    """The stored rollups equal a tally of the stored dialogs, and a recount changes nothing."""
    stored = table(store, *SPAN, page=50)
    expected = tally(stored, SEOUL)
    cells, _ = store.rollup_cells(FIRST_DAY, LAST_DAY)
    assert cells == expected.cells
    users, _ = store.rollup_users(FIRST_DAY, LAST_DAY)
    assert users == user_rollups(expected.slices, expected.conversations)
    assert store.recount(FIRST_DAY, LAST_DAY) == len(stored)
    assert store.rollup_cells(FIRST_DAY, LAST_DAY)[0] == expected.cells
    assert store.rollup_users(FIRST_DAY, LAST_DAY)[0] == users


def mixed_dialogs() -> list[Dialog]:
    """Users, modes, models, outcomes and ratings on both sides of midnight in Seoul."""
    evening = datetime(2026, 11, 25, 14, 50, tzinfo=UTC)  # 23:50 in Seoul
    return [
        make_dialog("alice", evening, conversation_id="a1", cost_microusd=1500),
        make_dialog(
            "alice",
            evening + timedelta(minutes=20),
            conversation_id="a1",
            msg="Sure, here it is.",
            cost_microusd=900,
        ),
        make_dialog(
            "alice",
            evening + timedelta(hours=2),
            conversation_id="a2",
            mode="translate",
            model_id=HAIKU,
            status="stopped",
            msg="번역하",
        ),
        make_dialog(
            "bob",
            evening,
            conversation_id="b1",
            status="error",
            msg="",
            error_kind="throttled",
            input_tokens=None,
            output_tokens=None,
        ),
        make_dialog(
            "bob",
            evening + timedelta(hours=3),
            conversation_id="b1",
            status="cut",
            stop_reason="max_tokens",
            output_tokens=8192,
        ),
        make_dialog(
            "carol",
            evening + timedelta(hours=1),
            conversation_id="c1",
            type="document",
            mode="summary",
            body="report.pdf",
            document_text="본문" * 100,
        ),
    ]


def test_rollups_equal_a_recount_after_writes_rewrites_and_ratings(store: DialogStore) -> None:
    written = mixed_dialogs()
    for dialog in reversed(written):  # out of order, as the outbox may deliver them
        store.put(dialog)
    assert_rollups_match_a_recount(store)
    store.put(written[0])  # a retry of a write that had succeeded: counted once
    continued = written[4]._replace(  # Continue: the cut answer goes on in the same dialog
        status="complete", stop_reason="end_turn", output_tokens=9000, msg=written[4].msg * 2
    )
    store.put(continued)
    store.put(written[2]._replace(superseded_by="new-request"))  # regenerated
    store.set_feedback("alice", written[0].request_time, Rating("down", "too_long", "길어요"))
    store.set_feedback("alice", written[1].request_time, Rating("up"))
    store.set_feedback("alice", written[1].request_time, Rating(None))
    assert_rollups_match_a_recount(store)
    cells, _ = store.rollup_cells(FIRST_DAY, LAST_DAY)
    assert sum(counts[rollups.DIALOGS] for counts in cells.values()) == len(written)
    assert sum(counts[f"{rollups.REASON}too_long"] for counts in cells.values()) == 1
    assert {cell.day for cell in cells} == {FIRST_DAY, LAST_DAY}


def test_rollups_equal_a_recount_after_deletes(store: DialogStore) -> None:
    for dialog in mixed_dialogs():
        store.put(dialog)
    assert store.delete_conversation("alice", "a1") == 2
    assert_rollups_match_a_recount(store)
    assert store.delete_user("bob") == 2
    assert_rollups_match_a_recount(store)
    users, _ = store.rollup_users(FIRST_DAY, LAST_DAY)
    assert [(row.user_id, row.conversations) for row in users] == [
        ("alice", frozenset({"a2"})),
        ("carol", frozenset({"c1"})),
    ]


class LostReplies:
    """A store whose first write of each dialog succeeds but reports a failure (a reply lost
    on the network), so the outbox writes it again."""

    def __init__(self, store: DialogStore) -> None:
        self.store = store
        self.seen: set[str] = set()

    def put(self, dialog: Dialog) -> None:
        self.store.put(dialog)
        if dialog.request_time not in self.seen:
            self.seen.add(dialog.request_time)
            raise ConnectionError("the reply was lost")

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


def test_rollups_count_an_outbox_replay_once(store: DialogStore, tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", LostReplies(store))  # type: ignore[arg-type]
    try:
        written = mixed_dialogs()
        for dialog in written:
            outbox.save(dialog)
        outbox.rate("alice", written[0].request_time, Rating("down", "unhelpful"))
        assert eventually(lambda: outbox.drain() == 0)  # the writer's rounds, run here too
    finally:
        outbox.close()
    assert len(table(store, *SPAN)) == len(written)
    assert_rollups_match_a_recount(store)


def test_dialogs_from_before_rollups_are_counted_by_a_recount(store: DialogStore) -> None:
    legacy = make_dialog(
        "dave",
        datetime(2026, 11, 25, 3, tzinfo=UTC),
        conversation_id=None,
        **WITHOUT_OPTIONAL_FIELDS,
    )
    put_legacy(store, legacy)  # written by a version without rollups
    if isinstance(store, DynamoStore):  # the original's items join the day index first
        assert backfill_day(dynamodb_client(user_agent="tests"), store.table_name) == 1
    store.recount(FIRST_DAY, LAST_DAY)
    cells, _ = store.rollup_cells(FIRST_DAY, LAST_DAY)
    [(cell, counts)] = cells.items()
    assert (cell.mode, cell.model_id, counts[rollups.DIALOGS]) == ("normal", "", 1)
    store.set_feedback("dave", legacy.request_time, Rating("up"))  # moves it, exactly
    assert_rollups_match_a_recount(store)


def test_the_table_filters_by_every_dimension_and_text(store: DialogStore) -> None:
    written = mixed_dialogs()
    for dialog in written:
        store.put(dialog)
    store.set_feedback("alice", written[0].request_time, Rating("down"))
    assert table(store, *SPAN, modes=["translate"]) == [written[2]]
    assert table(store, *SPAN, models=[HAIKU]) == [written[2]]
    assert table(store, *SPAN, statuses=["error", "cut"]) == [written[3], written[4]]
    assert table(store, *SPAN, types=["document"]) == [written[5]]
    assert table(store, *SPAN, feedbacks=["down"]) == [written[0]._replace(feedback="down")]
    assert len(table(store, *SPAN, feedbacks=[""])) == len(written) - 1
    assert table(store, *SPAN, text="here it") == [written[1]]
    assert table(store, *SPAN, user_id="bob", statuses=["cut"]) == [written[4]]
    assert table(store, *SPAN, modes=["translate"], models=[SONNET]) == []


def test_the_table_cuts_texts_and_reads_the_whole_dialog_on_request(store: DialogStore) -> None:
    long = make_dialog(body="질문" * 200, msg="답" * 1000, document_text="문서")
    store.put(long)
    page = store.dialog_page(DialogQuery(*SPAN, CellFilter()), 10, text_chars=50)
    [shown] = page.dialogs
    assert (shown.body, shown.msg, shown.document_text) == (long.body[:50], long.msg[:50], None)
    assert page.cursor is None and page.read >= 1
    assert store.dialog("alice", long.request_time) == long
    assert store.dialog("bob", long.request_time) is None
