"""A user's conversations as the sidebar lists them (grouped by age, titles a user gives),
and as files (Markdown, JSON)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from chatbot.inputs import remove_control_chars
from chatbot.store.base import (
    Conversation,
    Dialog,
    DialogType,
    parse_request_time,
    search_terms,
)

# A title the user types: one line, this long at most.
MAX_TITLE_CHARS = 100
# The list reads this many conversations at a time.
PAGE_SIZE = 30


class Age(StrEnum):
    """The sidebar's groups, newest first; the values are i18n keys."""

    TODAY = "conversations_today"
    YESTERDAY = "conversations_yesterday"
    WEEK = "conversations_week"
    OLDER = "conversations_older"


def age(conversation: Conversation, now: datetime) -> Age:
    """How old a conversation is, by calendar days in ``now``'s time zone."""
    days = (now.date() - conversation.updated_at.astimezone(now.tzinfo).date()).days
    if days <= 0:
        return Age.TODAY
    if days == 1:
        return Age.YESTERDAY
    if days < 7:
        return Age.WEEK
    return Age.OLDER


def grouped(
    conversations: Iterable[Conversation], now: datetime
) -> list[tuple[Age, list[Conversation]]]:
    """``conversations`` (newest first) under their ages, empty groups left out."""
    groups: dict[Age, list[Conversation]] = {}
    for conversation in conversations:
        groups.setdefault(age(conversation, now), []).append(conversation)
    return [(group, groups[group]) for group in Age if group in groups]


def local_now(time_zone: str) -> datetime:
    return datetime.now(ZoneInfo(time_zone))


def clean_title(typed: str) -> str:
    """A title as the user typed it: control characters out, one line, within the limit;
    "" for nothing usable."""
    line = " ".join(remove_control_chars(typed).split())
    return line[:MAX_TITLE_CHARS]


def recent_enough(conversation: Conversation, days: int, now: datetime) -> bool:
    """Whether a conversation is recent enough to reopen by itself when the user comes back."""
    return days > 0 and now - conversation.updated_at < timedelta(days=days)


# Search results shown at most; a snippet's length.
SEARCH_RESULTS = 20
SNIPPET_CHARS = 80


def snippet(dialog: Dialog, text: str) -> str:
    """One line to show a search's match: the question if it holds a searched word, else
    the answer around the first word found."""
    words = [word.casefold() for word in search_terms(text)]
    question = " ".join(dialog.body.split())
    if any(word in question.casefold() for word in words) or not words:
        return _shortened(question, 0)
    answer = " ".join(dialog.msg.split())
    at = min((i for w in words if (i := answer.casefold().find(w)) >= 0), default=0)
    return _shortened(answer, max(0, at - SNIPPET_CHARS // 3))


def _shortened(line: str, start: int) -> str:
    head = "…" if start else ""
    tail = "…" if len(line) > start + SNIPPET_CHARS else ""
    return f"{head}{line[start : start + SNIPPET_CHARS]}{tail}"


def file_stem(title: str) -> str:
    """A file name for a conversation's export: its title's words (Hangul included)."""
    words = re.findall(r"\w+", title)
    return "-".join(words)[:80] or "conversation"


def as_markdown(title: str, dialogs: Iterable[Dialog]) -> str:
    """A conversation as a Markdown document: its title, then each question and answer."""
    parts = [f"# {title}"]
    for dialog in dialogs:
        asked = parse_request_time(dialog.request_time).strftime("%Y-%m-%d %H:%M UTC")
        question = f"📎 {dialog.body}" if dialog.type == DialogType.DOCUMENT else dialog.body
        parts.append(f"## {asked}\n\n**Q.** {question}\n\n{dialog.msg}")
    return "\n\n".join(parts) + "\n"


def as_json(title: str, conversation_id: str, dialogs: Iterable[Dialog]) -> str:
    """A conversation as JSON (UTF-8, Korean as itself): its title and every stored field."""
    document = {
        "conversation_id": conversation_id,
        "title": title,
        "dialogs": [dialog._asdict() for dialog in dialogs],
    }
    return json.dumps(document, ensure_ascii=False, indent=2)
