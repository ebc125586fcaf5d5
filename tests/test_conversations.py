"""The conversation list's logic: ages, titles a user types, what reopens by itself."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from chatbot.conversations import (
    MAX_TITLE_CHARS,
    SNIPPET_CHARS,
    Age,
    as_json,
    as_markdown,
    clean_title,
    file_stem,
    grouped,
    recent_enough,
    snippet,
)
from chatbot.store.base import Conversation, Dialog, format_request_time
from tests.factories import NOW, make_dialog

SEOUL = ZoneInfo("Asia/Seoul")


def conversation(name: str, at: datetime) -> Conversation:
    return Conversation("alice", name, name, format_request_time(at, "00000000"))


def test_conversations_are_grouped_by_calendar_days_in_the_viewers_time_zone() -> None:
    now = datetime(2026, 11, 27, 0, 30, tzinfo=SEOUL)  # just after midnight in Seoul
    listed = [
        conversation("just now", now - timedelta(minutes=5)),
        # 23:50 in Seoul yesterday, but the same UTC day as "just now": yesterday here.
        conversation("last night", now - timedelta(minutes=40)),
        conversation("three days", now - timedelta(days=3)),
        conversation("six days", now - timedelta(days=6)),
        conversation("a week", now - timedelta(days=7, hours=1)),
    ]
    assert [(age, [c.title for c in group]) for age, group in grouped(listed, now)] == [
        (Age.TODAY, ["just now"]),
        (Age.YESTERDAY, ["last night"]),
        (Age.WEEK, ["three days", "six days"]),
        (Age.OLDER, ["a week"]),
    ]
    assert grouped([], now) == []


def test_a_typed_title_is_one_clean_line_within_the_limit() -> None:
    assert clean_title("  서울\n여행\t계획\x00 ") == "서울 여행 계획"
    assert clean_title("\x07 \n") == ""
    assert len(clean_title("가" * 500)) == MAX_TITLE_CHARS


def test_only_a_recent_conversation_reopens_by_itself() -> None:
    now = datetime(2026, 11, 27, 12, tzinfo=UTC)
    yesterday = conversation("c", now - timedelta(days=1))
    assert recent_enough(yesterday, 2, now)
    assert not recent_enough(yesterday, 1, now)
    assert not recent_enough(yesterday, 0, now)  # CHAT_HISTORY_DAYS=0: always a new chat


def test_a_conversation_exports_as_markdown_and_as_json_in_korean() -> None:
    first = make_dialog(body="서울 지하철 요금은?", msg="**1,400원**입니다.")
    document = make_dialog(
        at=NOW + timedelta(minutes=1),
        type="document",
        body="계약서.pdf",
        msg="요약: 통지 기간 30일",
    )
    markdown = as_markdown("서울 여행", [first, document])
    assert markdown.startswith(
        "# 서울 여행\n\n## 2026-11-25 09:30 UTC\n\n**Q.** 서울 지하철 요금은?"
    )
    assert (
        "**1,400원**입니다." in markdown
        and "**Q.** 📎 계약서.pdf\n\n요약: 통지 기간 30일" in markdown
    )
    exported = as_json("서울 여행", "c1", [first, document])
    assert "서울 여행" in exported  # Korean as itself, not \\uXXXX escapes
    loaded = json.loads(exported.encode().decode("utf-8"))
    assert loaded["title"] == "서울 여행" and loaded["conversation_id"] == "c1"
    assert [Dialog(**d) for d in loaded["dialogs"]] == [first, document]


def test_an_export_is_named_after_its_title() -> None:
    assert file_stem("서울 여행: 3일 계획!") == "서울-여행-3일-계획"
    assert file_stem("?!") == "conversation"


def test_a_match_shows_its_question_or_the_answer_around_the_word() -> None:
    asked = make_dialog(body="서울 지하철\n요금은?", msg="답")
    assert snippet(asked, "지하철") == "서울 지하철 요금은?"
    answered = make_dialog(
        body="교통편 알려줘", msg="가" * 100 + " 지하철이 편리합니다 " + "나" * 100
    )
    shown = snippet(answered, "지하철")
    assert shown.startswith("…") and shown.endswith("…") and "지하철이 편리합니다" in shown
    assert len(shown) == SNIPPET_CHARS + 2
