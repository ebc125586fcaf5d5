"""The rollups' definitions: what one dialog adds, what a change moves, percentiles' accuracy."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from chatbot import rollups
from chatbot.rollups import Cell, CellFilter, Slice, bucket, bucket_value, delta, percentile, tally
from tests.factories import make_dialog

SEOUL = ZoneInfo("Asia/Seoul")
MODEL = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"


def test_a_dialog_counts_in_its_day_of_the_reporting_time_zone() -> None:
    # 15:00 UTC is midnight in Seoul: the same UTC day, two Korean days.
    before = make_dialog(at=datetime(2026, 11, 25, 14, 59, 59, tzinfo=UTC))
    after = make_dialog(at=datetime(2026, 11, 25, 15, 0, tzinfo=UTC))
    assert rollups.contribution(before, SEOUL).cell.day == "2026-11-25"
    assert rollups.contribution(after, SEOUL).cell.day == "2026-11-26"
    assert rollups.contribution(after, ZoneInfo("UTC")).cell.day == "2026-11-25"


def test_a_dialog_adds_its_tokens_cost_timing_and_language() -> None:
    part = rollups.contribution(make_dialog(cost_microusd=1234), SEOUL)
    assert part.cell == Cell("2026-11-25", "normal", MODEL, "complete", "text", "", "ko")
    counts = part.cell_counts
    assert counts[rollups.DIALOGS] == 1
    assert (counts[rollups.INPUT_TOKENS], counts[rollups.OUTPUT_TOKENS]) == (12, 34)
    assert (counts[rollups.CACHE_READ_TOKENS], counts[rollups.CACHE_HITS]) == (8, 1)
    assert counts[rollups.COST] == 1234
    assert counts[f"{rollups.TTFT}{bucket(300)}"] == 1
    assert counts[rollups.METERED_CHARS] == len("1,400원입니다.\n<b>not html</b>")
    assert part.slice == Slice("2026-11-25", "alice", "normal", MODEL)
    assert part.slice_counts == Counter(
        dialogs=1, input_tokens=12, output_tokens=34, cost_microusd=1234
    )
    assert part.conversation_id == "c1"


def test_the_original_systems_rows_count_without_tokens_or_mode() -> None:
    legacy = make_dialog(
        mode=None,
        model_id=None,
        input_tokens=None,
        output_tokens=None,
        ttft_ms=None,
        cache_read_tokens=None,
        cache_write_tokens=None,
        msg="Hello there",
    )
    part = rollups.contribution(legacy, SEOUL)
    assert (part.cell.mode, part.cell.model_id, part.cell.lang) == ("normal", "", "en")
    assert rollups.METERED not in part.cell_counts and rollups.TIMED not in part.cell_counts


def test_failures_count_by_kind_and_a_thumbs_down_by_reason() -> None:
    failed = make_dialog(
        status="error", msg="", error_kind="throttled", feedback="down", feedback_reason="unhelpful"
    )
    part = rollups.contribution(failed, SEOUL)
    assert part.cell.lang == ""  # no letters in the answer
    assert part.cell_counts[f"{rollups.ERROR_KIND}throttled"] == 1
    assert part.cell_counts[f"{rollups.REASON}unhelpful"] == 1
    assert part.slice_counts[rollups.ERRORS] == part.slice_counts[rollups.DOWN] == 1
    unknown = rollups.contribution(make_dialog(status="incomplete"), SEOUL)
    assert unknown.cell_counts[f"{rollups.ERROR_KIND}unknown"] == 1


def test_writing_a_dialog_again_changes_nothing() -> None:
    written = make_dialog()
    assert delta(written, written, SEOUL) == rollups.Delta({}, {}, {}, {})


def test_a_rating_moves_the_dialog_to_another_cell() -> None:
    written = make_dialog()
    rated = written._replace(feedback="down", feedback_reason="too_long")
    change = delta(written, rated, SEOUL)
    old, new = rollups.contribution(written, SEOUL), rollups.contribution(rated, SEOUL)
    assert change.cells[old.cell] == Counter({k: -v for k, v in old.cell_counts.items()})
    assert change.cells[new.cell] == new.cell_counts
    assert change.slices == {old.slice: Counter(rated=1, down=1)}
    assert not change.joined and not change.left  # still in its conversation


def test_a_new_dialog_joins_and_a_deleted_one_leaves_its_conversation() -> None:
    written = make_dialog()
    part = rollups.contribution(written, SEOUL)
    assert delta(None, written, SEOUL).joined == {part.slice: "c1"}
    gone = delta(written, None, SEOUL)
    assert gone.left == {part.slice: "c1"}
    assert gone.slices[part.slice][rollups.DIALOGS] == -1


def test_adding_every_delta_equals_the_tally() -> None:
    rng = random.Random(3)
    stored: dict[str, object] = {}
    cells: dict[Cell, Counter[str]] = {}
    for i in range(300):
        key = f"k{rng.randrange(40)}"
        old = stored.get(key)
        new = (
            None
            if rng.random() < 0.1
            else make_dialog(
                user=rng.choice(["a", "b"]),
                request_time=f"2026-11-1{rng.randrange(3)}T0{rng.randrange(10)}:00:00.000Z#{key}",
                status=rng.choice(["complete", "stopped", "error"]),
                feedback=rng.choice([None, "up", "down"]),
                ttft_ms=rng.randrange(0, 5000),
                body=f"q{i}",
            )
        )
        for cell, counts in delta(old, new, SEOUL).cells.items():  # type: ignore[arg-type]
            cells.setdefault(cell, Counter()).update(counts)
        if new is None:
            stored.pop(key, None)
        else:
            stored[key] = new
    expected = tally(stored.values(), SEOUL).cells  # type: ignore[arg-type]
    assert {c: +n for c, n in cells.items() if +n} == expected


@pytest.mark.parametrize("value", [1, 2, 7, 99, 100, 101, 1000, 12345, 10**9])
def test_a_bucket_stands_for_its_values_within_two_percent(value: int) -> None:
    assert abs(bucket_value(bucket(value)) - value) <= rollups.RELATIVE_ACCURACY * value + 1e-9
    assert bucket_value(bucket(0)) == 0


def test_percentiles_are_within_the_relative_accuracy() -> None:
    rng = random.Random(5)
    values = sorted(int(rng.lognormvariate(6, 1)) for _ in range(5000))
    buckets = Counter(bucket(v) for v in values)
    for q in (50, 90, 99):
        exact = values[int(q / 100 * (len(values) - 1))]
        got = percentile(buckets, q)
        assert got is not None and abs(got - exact) <= rollups.RELATIVE_ACCURACY * exact
    assert percentile({}, 50) is None


def test_users_merge_their_days_and_count_each_conversation_once() -> None:
    dialogs = [
        make_dialog(at=datetime(2026, 11, 24, 1, tzinfo=UTC), conversation_id="c1"),
        make_dialog(at=datetime(2026, 11, 25, 1, tzinfo=UTC), conversation_id="c1"),
        make_dialog(
            at=datetime(2026, 11, 25, 2, tzinfo=UTC), conversation_id="c2", status="stopped"
        ),
        make_dialog(user="bob", at=datetime(2026, 11, 25, 3, tzinfo=UTC), mode="translate"),
    ]
    counted = tally(dialogs, SEOUL)
    [alice, bob] = rollups.user_rollups(counted.slices, counted.conversations)
    assert (alice.user_id, alice.last_day, alice.conversations) == (
        "alice",
        "2026-11-25",
        frozenset({"c1", "c2"}),
    )
    assert alice.counts[rollups.DIALOGS] == 3 and alice.counts[rollups.STOPPED] == 1
    assert (bob.mode, bob.counts[rollups.DIALOGS]) == ("translate", 1)


def test_a_filter_picks_cells_by_every_dimension_it_names() -> None:
    cell = Cell("2026-11-25", "normal", MODEL, "complete", "text", "down", "ko")
    assert CellFilter().matches(cell)
    assert CellFilter(modes=["normal"], feedbacks=["down"]).matches(cell)
    assert not CellFilter(models=["other"]).matches(cell)
    assert not CellFilter(statuses=["error"], modes=["normal"]).matches(cell)
    assert CellFilter(feedbacks=[""]).matches(cell._replace(feedback=""))
