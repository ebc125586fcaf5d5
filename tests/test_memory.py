from datetime import UTC, datetime

from langchain_core.messages import AIMessage, HumanMessage

from chatbot.memory import remember, window, window_step
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


def test_only_complete_conversational_dialogs_are_remembered_whole() -> None:
    dialogs = [
        _dialog(1),
        _dialog(2, mode="translation"),
        _dialog(3, type="document"),
        _dialog(4, status="error", msg=""),
        _dialog(5, mode=None),  # a row written by the original system
    ]
    memory: list = []
    for dialog in dialogs:
        remember(memory, dialog)
    assert [m.content for m in memory[::2]] == ["question 1", "question 5"]
    assert all(m.content == "긴 답변 " * 100 for m in memory[1::2])


def test_window_drops_its_oldest_exchanges_half_a_window_at_a_time() -> None:
    """So the prompt prefix up to the window's end stays the same from turn to turn."""
    k, previous, jumps = 10, None, 0
    for n in range(1, 41):
        kept = window(_exchanges(n), k=k)
        exchanges = len(kept) // 2
        assert exchanges <= k and kept[-1].content == f"answer{n - 1}"
        assert exchanges >= min(n, k - window_step(k) + 1)
        if previous is not None and kept[: len(previous)] != previous:
            jumps += 1  # the window moved on: its prefix changed this turn
        previous = kept
    assert window_step(k) == 5 and jumps == 6  # at 11, 16, ..., 36 exchanges: every 5th turn


def test_the_size_bound_also_moves_in_steps() -> None:
    windows = [
        window(_exchanges(n, answer="x" * 1000), k=50, max_chars=10_000) for n in (9, 10, 11)
    ]
    assert [m.content for m in windows[0][::2]] == [f"q{i}" for i in range(9)]
    # 10 exchanges are over 10,000 characters: the window moves on by a step (finer than
    # 25 here, since 25 would leave nothing) and then stays put, rather than sliding by one.
    assert windows[1][0].content == windows[2][0].content == "q7"
    assert all(sum(len(m.text) for m in kept) <= 10_000 for kept in windows)


def test_an_exchange_over_the_size_bound_alone_leaves_the_window_empty() -> None:
    assert window(_exchanges(3, answer="x" * 20_000), k=10, max_chars=10_000) == []
