from datetime import UTC, datetime

from langchain_core.messages import AIMessage, HumanMessage

from chatbot.memory import REPLAYED_ANSWER_CHARS, replayed_messages, window
from chatbot.store.base import Dialog
from tests.factories import make_dialog


def _exchanges(n: int, answer: str = "answer") -> list:
    messages = []
    for i in range(n):
        messages += [HumanMessage(f"q{i}"), AIMessage(f"{answer}{i}")]
    return messages


def test_window_keeps_the_last_k_exchanges() -> None:
    kept = window(_exchanges(15), k=10)
    assert len(kept) == 20
    assert kept[0].content == "q5" and kept[-1].content == "answer14"


def test_window_of_zero_is_empty_and_short_histories_are_whole() -> None:
    assert window(_exchanges(3), k=0) == []
    assert len(window(_exchanges(3), k=10)) == 6


def test_window_is_bounded_by_size_and_starts_on_a_question() -> None:
    long = _exchanges(10, answer="x" * 5000)
    kept = window(long, k=10, max_chars=12_000)
    assert sum(len(m.text) for m in kept) <= 12_000
    assert isinstance(kept[0], HumanMessage)
    assert kept[-1].content.endswith("9")  # the newest exchange survives


def _dialog(i: int, **changes) -> Dialog:
    at = datetime(2026, 1, 1, 0, 0, i, tzinfo=UTC)
    values = {"body": f"question {i}", "msg": "긴 답변 " * 100, **changes}
    return make_dialog("u", at, **values)


def test_replay_seeds_only_complete_conversations_with_shortened_answers() -> None:
    dialogs = [
        _dialog(1),
        _dialog(2, mode="translation"),
        _dialog(3, type="document"),
        _dialog(4, status="error", msg=""),
        _dialog(5, mode=None),  # a row written by the original system
    ]
    messages = replayed_messages(dialogs)
    assert [m.content for m in messages[::2]] == ["question 1", "question 5"]
    assert all(len(m.content) == REPLAYED_ANSWER_CHARS for m in messages[1::2])
