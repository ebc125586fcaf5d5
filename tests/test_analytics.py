"""The History page's numbers from the rollups (exact sums, percentiles within the
histograms' accuracy, filters, empty ranges) and the table's frame and exports."""

import csv
import io
import json
import math
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import pytest

from chatbot import analytics, rollups
from chatbot.i18n import time_zone
from chatbot.rollups import CellFilter
from chatbot.store.base import Dialog
from tests.factories import make_dialog

START = datetime(2026, 11, 20, 23, 30, tzinfo=UTC)


def make(i: int, **changes) -> Dialog:
    values = dict(
        body=f"질문 {i}",
        msg=f'Answer {i}, with "quotes", commas\nand a newline',
        mode=("normal", "translation")[i % 2],
        output_tokens=20 + i,
        latency_ms=1000 + 100 * i,
        status="complete" if i % 3 else "error",
    )
    return make_dialog(f"user{i % 2}", START + timedelta(hours=i), **{**values, **changes})


def frame() -> pd.DataFrame:
    return analytics.dialogs_frame([make(i) for i in range(6)])


def test_the_frame_has_utc_times_and_integer_measurements() -> None:
    built = frame()
    assert list(built.columns) == list(analytics.COLUMNS)
    assert built["time"].iloc[0] == pd.Timestamp(START)
    assert str(built["latency_ms"].dtype) == "Int64"


def test_rows_of_the_original_system_fit_the_frame() -> None:
    legacy = Dialog(
        user_id="old",
        request_time="2023-12-05 18:26:00",
        request_id="r",
        type="text",
        body="q",
        msg="a",
    )
    built = analytics.dialogs_frame([legacy])
    assert built["time"].iloc[0] == pd.Timestamp("2023-12-05 18:26:00", tz="UTC")
    assert built["mode"].iloc[0] == "normal" and pd.isna(built["latency_ms"].iloc[0])


def test_an_empty_frame_has_the_columns() -> None:
    assert list(analytics.dialogs_frame([]).columns) == list(analytics.COLUMNS)


def test_csv_opens_in_excel_with_korean_and_keeps_every_row() -> None:
    built = frame()
    data = analytics.to_csv(built)
    assert data.startswith("\ufeff".encode())
    back = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert list(back["body"]) == list(built["body"]) and list(back["msg"]) == list(built["msg"])


def test_csv_cells_excel_would_run_as_formulas_are_text() -> None:
    formulas = ['=HYPERLINK("http://x")', "+1+2", "-2+3", "@SUM(A1)", "\tx", "\r=1"]
    dialogs = [make(i, body=text, msg="a = b, -1 and @x inside") for i, text in enumerate(formulas)]
    dialogs.append(make(9, body="질문", msg="line\r=1+1", latency_ms=-5, output_tokens=0))
    built = analytics.dialogs_frame(dialogs)
    exported = analytics.to_csv(built).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(exported, newline="")))
    assert [row["body"] for row in rows] == ["'" + text for text in formulas] + ["질문"]
    assert {row["msg"] for row in rows[:-1]} == {"a = b, -1 and @x inside"}  # a cell's start
    assert rows[-1]["msg"] == "line\r=1+1"  # a carriage return cannot start a row of its own
    assert rows[-1]["latency_ms"] == "-5" and rows[-1]["output_tokens"] == "0"  # numbers stay
    assert [r["body"] for r in json.loads(analytics.to_json(built))][:6] == formulas


def test_json_export_is_records_with_korean_as_is() -> None:
    records = json.loads(analytics.to_json(frame()))
    assert len(records) == 6 and records[0]["body"] == "질문 0"
    assert "질문".encode() in analytics.to_json(frame())
    assert records[0]["time"].startswith("2026-11-20T23:30:00.000")


def test_an_unknown_time_zone_falls_back_to_utc() -> None:
    assert time_zone("Asia/Seoul") == "Asia/Seoul"
    assert time_zone("Mars/Olympus_Mons") == "UTC"
    assert time_zone(None) == "UTC"


# The History page's numbers, from the rollup cells of eight dialogs whose sums are worked
# out by hand below (days are Seoul's: the third dialog, 16:30 UTC on the 24th, is the 25th).
SEOUL = ZoneInfo("Asia/Seoul")
SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
DAY1, DAY2 = date(2026, 11, 24), date(2026, 11, 25)
KO = "가나다라마바사아자차"  # a Korean answer of 10 characters
EN = "abcdefghij"  # an English one
EVERYTHING = CellFilter()


def turn(user: str, hour: float, **values: object) -> Dialog:
    """A dialog ``hour`` hours after midnight UTC on the 24th, measured only as ``values`` say."""
    unmeasured = dict.fromkeys(
        (
            "input_tokens",
            "output_tokens",
            "cache_read_tokens",
            "cache_write_tokens",
            "ttft_ms",
            "cost_microusd",
        )
    )
    at = datetime(2026, 11, 24, tzinfo=UTC) + timedelta(hours=hour)
    return make_dialog(user, at, **{**unmeasured, **values})


DIALOGS = [
    # Hours 1 to 3 are on the 24th in Seoul, 16.5 and 25 to 28 on the 25th.
    turn("alice", 1, model_id=SONNET, feedback="up", msg=KO * 2, input_tokens=100,
         cache_read_tokens=60, output_tokens=40, cost_microusd=1000, ttft_ms=200,
         conversation_id="a1"),
    turn("alice", 2, model_id=SONNET, status="stopped", feedback="down",
         feedback_reason="too_long", msg=KO, input_tokens=100, output_tokens=10,
         cost_microusd=500, ttft_ms=400, conversation_id="a1"),
    turn("alice", 16.5, mode="translation", model_id=HAIKU, feedback="down", msg=EN * 6,
         input_tokens=50, output_tokens=30, cost_microusd=200, ttft_ms=100,
         conversation_id="a1"),
    turn("bob", 3, model_id=HAIKU, status="error", error_kind="throttled", msg="",
         conversation_id="b1"),
    turn("bob", 25, model_id=SONNET, status="cut", msg=EN * 8, input_tokens=200,
         cache_read_tokens=100, output_tokens=80, cost_microusd=3000, ttft_ms=800,
         conversation_id="b1"),
    turn("bob", 26, mode="translation", model_id=SONNET, status="incomplete",
         error_kind="stream_failed", feedback="down", feedback_reason="inaccurate", msg=KO,
         input_tokens=100, output_tokens=5, cost_microusd=300, ttft_ms=300,
         conversation_id="b2"),
    turn("carol", 27, type="document", model_id=SONNET, msg=KO * 3, input_tokens=100,
         cache_read_tokens=50, output_tokens=20, cost_microusd=700, ttft_ms=250,
         conversation_id="c1"),
    turn("carol", 28, model_id=SONNET, status="stopped", msg=KO, input_tokens=100,
         output_tokens=5, cost_microusd=400, ttft_ms=600, conversation_id="c1"),
]  # fmt: skip
TALLY = rollups.tally(DIALOGS, SEOUL)
CELLS = TALLY.cells
USERS = rollups.user_rollups(TALLY.slices, TALLY.conversations)


def rows(frame: pd.DataFrame) -> dict[Any, SimpleNamespace]:
    """A frame's rows by their index, the columns as attributes."""
    records = frame.to_dict("index")
    return {
        key: SimpleNamespace(**{str(k): v for k, v in row.items()}) for key, row in records.items()
    }


def near(exact: float) -> object:
    """A percentile read from the histograms: within the rollups' relative accuracy."""
    return pytest.approx(exact, rel=rollups.RELATIVE_ACCURACY)


def test_totals_sum_every_dialog() -> None:
    got = analytics.totals(CELLS, EVERYTHING)
    assert (got.dialogs, got.input_tokens, got.output_tokens) == (8, 750, 190)
    assert got.cache_read_tokens == 210 and got.cache_hit_rate == pytest.approx(210 / 750)
    assert got.cost_usd == pytest.approx(0.0061)
    assert got.down_rate == 3 / 4  # of the four rated
    assert (got.error_rate, got.stop_rate, got.cut) == (2 / 8, 2 / 8, 1)
    # Seven timings: 100 200 250 300 400 600 800; p50 the 4th, p90 (rank 5.4) the 6th.
    assert got.ttft_p50_ms == near(300) and got.ttft_p90_ms == near(600)


def test_filters_narrow_the_totals() -> None:
    translation = analytics.totals(CELLS, CellFilter(modes=["translation"]))
    assert (translation.dialogs, translation.cost_usd) == (2, pytest.approx(0.0005))
    assert (translation.down_rate, translation.error_rate) == (1.0, 0.5)
    disliked = analytics.totals(CELLS, CellFilter(feedbacks=["down"], models=[SONNET]))
    assert (disliked.dialogs, disliked.input_tokens) == (2, 200)
    unrated = analytics.totals(CELLS, CellFilter(feedbacks=[""], types=["document"]))
    assert (unrated.dialogs, unrated.output_tokens, unrated.ttft_p50_ms) == (1, 20, near(250))
    assert math.isnan(unrated.down_rate)  # nothing rated
    failed = analytics.totals(CELLS, CellFilter(statuses=["error"]))
    assert (failed.dialogs, failed.ttft_p50_ms, failed.ttft_p90_ms) == (1, None, None)
    assert math.isnan(failed.cache_hit_rate)  # no input tokens


def test_breakdown_per_mode_costliest_first() -> None:
    got = analytics.breakdown(CELLS, EVERYTHING, "mode")
    assert list(got.index) == ["normal", "translation"] and got.index.name == "mode"
    assert list(got.columns) == [*SUMMARY_COLUMNS[:4], *SUMMARY_COLUMNS[5:]]
    normal, translation = rows(got)["normal"], rows(got)["translation"]
    assert (normal.dialogs, normal.input_tokens, normal.output_tokens) == (6, 600, 155)
    assert normal.cost_usd == pytest.approx(0.0056) and normal.cut == 1
    assert (normal.down_rate, normal.error_rate, normal.stop_rate) == (1 / 2, 1 / 6, 2 / 6)
    assert normal.ttft_p50_ms == near(400) and normal.ttft_p90_ms == near(600)
    assert normal.cache_hit_rate == pytest.approx(210 / 600)
    assert (translation.dialogs, translation.down_rate, translation.stop_rate) == (2, 1, 0)
    assert translation.ttft_p50_ms == near(100) == translation.ttft_p90_ms


def test_breakdown_per_model_with_won() -> None:
    got = analytics.breakdown(CELLS, EVERYTHING, "model_id", krw_per_usd=1400)
    assert list(got.columns) == SUMMARY_COLUMNS and list(got.index) == [SONNET, HAIKU]
    sonnet, haiku = rows(got)[SONNET], rows(got)[HAIKU]
    assert (sonnet.dialogs, sonnet.input_tokens, sonnet.output_tokens) == (6, 700, 160)
    assert sonnet.krw == pytest.approx(0.0059 * 1400)
    assert (sonnet.down_rate, sonnet.error_rate) == (2 / 3, 1 / 6)
    # Six timings: 200 250 300 400 600 800.
    assert sonnet.ttft_p50_ms == near(300) and sonnet.ttft_p90_ms == near(600)
    assert (haiku.dialogs, haiku.cost_usd, haiku.cache_hit_rate) == (2, 0.0002, 0.0)
    assert haiku.ttft_p50_ms == near(100) == haiku.ttft_p90_ms


def test_breakdown_per_day_in_order() -> None:
    got = analytics.breakdown(CELLS, EVERYTHING, "day")
    assert list(got.index) == [DAY1, DAY2] and got.index.name == "day"
    assert list(got["dialogs"]) == [3, 5]
    assert list(got["cost_usd"]) == pytest.approx([0.0015, 0.0046])
    with pytest.raises(ValueError):
        analytics.breakdown(CELLS, EVERYTHING, "user_id")


def test_dialogs_and_cost_per_day() -> None:
    dialogs = analytics.per_day(CELLS, EVERYTHING)
    assert dialogs.to_dict("index") == {
        DAY1: {"normal": 3, "translation": 0},
        DAY2: {"normal": 3, "translation": 2},
    }
    cost = analytics.cost_per_day(CELLS, EVERYTHING, krw_per_usd=1400)
    assert list(cost.columns) == [HAIKU, SONNET, "total", "krw"]
    assert cost.to_dict("index") == {
        DAY1: pytest.approx({HAIKU: 0, SONNET: 0.0015, "total": 0.0015, "krw": 2.1}),
        DAY2: pytest.approx({HAIKU: 0.0002, SONNET: 0.0044, "total": 0.0046, "krw": 6.44}),
    }
    assert "krw" not in analytics.cost_per_day(CELLS, EVERYTHING).columns
    only_haiku = analytics.per_day(CELLS, CellFilter(models=[HAIKU]))
    assert only_haiku.to_dict("index") == {
        DAY1: {"normal": 1, "translation": 0},
        DAY2: {"normal": 0, "translation": 1},
    }


def test_user_table_merges_a_users_modes_models_and_days() -> None:
    got = analytics.user_table(USERS, EVERYTHING, krw_per_usd=1400)
    assert list(got.index) == ["bob", "alice", "carol"]  # the costliest first
    assert list(got.columns) == [
        "dialogs",
        "conversations",
        "tokens",
        "cost_usd",
        "krw",
        "down_rate",
        "error_rate",
        "stop_rate",
        "last_active",
    ]
    bob, alice, carol = (rows(got)[user] for user in ("bob", "alice", "carol"))
    # Alice's one conversation spans two modes, two models and two days; Bob's b1 two models.
    assert (alice.dialogs, alice.conversations, alice.tokens) == (3, 1, 330)
    assert (bob.dialogs, bob.conversations, bob.tokens) == (3, 2, 385)
    assert (carol.dialogs, carol.conversations, carol.tokens) == (2, 1, 225)
    assert list(got["cost_usd"]) == pytest.approx([0.0033, 0.0017, 0.0011])
    assert bob.krw == pytest.approx(0.0033 * 1400)
    assert (alice.down_rate, alice.error_rate, alice.stop_rate) == (2 / 3, 0, 1 / 3)
    assert (bob.down_rate, bob.error_rate) == (1, 2 / 3)
    assert math.isnan(carol.down_rate) and carol.stop_rate == 1 / 2
    assert alice.last_active == DAY2 and set(got["last_active"]) == {DAY2}


def test_user_table_under_a_filter() -> None:
    got = analytics.user_table(USERS, CellFilter(modes=["normal"]))
    assert got.to_dict("index")["bob"] | {"down_rate": None} == {
        "dialogs": 2,
        "conversations": 1,  # b1, with two models
        "tokens": 280,
        "cost_usd": pytest.approx(0.003),
        "down_rate": None,
        "error_rate": 1 / 2,
        "stop_rate": 0,
        "last_active": DAY2,
    }
    assert list(got.index) == ["bob", "alice", "carol"] and "krw" not in got.columns
    assert analytics.user_table(USERS, CellFilter(models=[HAIKU]))["dialogs"].to_dict() == {
        "alice": 1,
        "bob": 1,
    }
    # The users add up to the totals.
    table = analytics.user_table(USERS, EVERYTHING)
    totals = analytics.totals(CELLS, EVERYTHING)
    assert table["dialogs"].sum() == totals.dialogs
    assert table["tokens"].sum() == totals.input_tokens + totals.output_tokens


def test_stops_by_mode() -> None:
    got = analytics.stops_by_mode(CELLS, EVERYTHING)
    assert list(got.columns) == [
        "stop_rate",
        "median_stop_chars",
        "median_complete_chars",
        "stop_position",
    ]
    normal, translation = rows(got)["normal"], rows(got)["translation"]
    # Normal: stopped at 10 and 10 characters; complete answers of 20 and 30.
    assert normal.stop_rate == 2 / 6
    assert normal.median_stop_chars == near(10) and normal.median_complete_chars == near(20)
    assert normal.stop_position == pytest.approx(0.5, rel=2 * rollups.RELATIVE_ACCURACY)
    assert translation.stop_rate == 0 and translation.median_complete_chars == near(60)
    assert math.isnan(translation.median_stop_chars) and math.isnan(translation.stop_position)


def test_quality_per_day() -> None:
    cuts = analytics.cuts_per_day(CELLS, EVERYTHING)
    assert cuts.to_dict("index") == {DAY1: {"cut": 0, "share": 0}, DAY2: {"cut": 1, "share": 0.2}}
    rated = analytics.feedback(CELLS, EVERYTHING)
    assert rated.to_dict("index") == {
        DAY1: {"rated": 2, "down": 1, "down_rate": 0.5},
        DAY2: {"rated": 2, "down": 2, "down_rate": 1.0},
    }
    hits = analytics.cache_hits_per_day(CELLS, EVERYTHING)
    assert hits.to_dict("index") == {  # of the dialogs with tokens: two, then five
        DAY1: {"token_hit_rate": 60 / 200, "dialog_hit_rate": 1 / 2},
        DAY2: pytest.approx({"token_hit_rate": 150 / 550, "dialog_hit_rate": 2 / 5}),
    }


def test_errors_and_reasons() -> None:
    kinds = analytics.errors_by_kind(CELLS, EVERYTHING)
    assert kinds.index.name == "kind" and list(kinds.columns) == ["dialogs"]
    assert kinds["dialogs"].to_dict() == {"stream_failed": 1, "throttled": 1}
    per_day = analytics.errors_per_day(CELLS, EVERYTHING)
    assert per_day.to_dict("index") == {
        DAY1: {"stream_failed": 0, "throttled": 1},
        DAY2: {"stream_failed": 1, "throttled": 0},
    }
    reasons = analytics.down_reasons(CELLS, EVERYTHING)
    assert reasons.index.name == "reason"
    assert list(reasons.index) == ["inaccurate", "too_long", analytics.UNSPECIFIED]
    assert reasons["dialogs"].tolist() == [1, 1, 1]
    normal = analytics.down_reasons(CELLS, CellFilter(modes=["normal"]))
    assert normal["dialogs"].to_dict() == {"too_long": 1}


def test_ttft_per_model_and_day_in_flat_columns() -> None:
    got = analytics.ttft_per_model_day(CELLS, EVERYTHING)
    haiku, sonnet = (f"{HAIKU} p50", f"{HAIKU} p90"), (f"{SONNET} p50", f"{SONNET} p90")
    assert list(got.columns) == [*haiku, *sonnet] and list(got.index) == [DAY1, DAY2]
    day1, day2 = (got.to_dict("index")[day] for day in (DAY1, DAY2))
    assert all(math.isnan(day1[column]) for column in haiku)  # its one dialog that day failed
    # Sonnet: 200 and 400 on the 24th (p90: rank 0.9 of 0-1, the first); 250 300 600 800
    # on the 25th (p90: rank 2.7 of 0-3, the third).
    assert [day1[column] for column in sonnet] == [near(200), near(200)]
    assert [day2[column] for column in sonnet] == [near(300), near(600)]
    assert [day2[column] for column in haiku] == [near(100), near(100)]
    failed = analytics.ttft_per_model_day(CELLS, CellFilter(statuses=["error"]))
    assert failed.columns.empty  # no timings, no lines


def test_tokens_per_1000_characters_korean_and_english() -> None:
    got = analytics.tokens_per_1000_chars(CELLS, EVERYTHING)
    assert list(got.columns) == ["ko", "en", "ko_vs_en"]
    assert got.index.names == ["mode", "model_id"]
    # Normal with Sonnet: Korean 75 tokens for 70 characters, English 80 for 80.
    normal = rows(got)[("normal", SONNET)]
    assert (normal.ko, normal.en, normal.ko_vs_en) == pytest.approx((1000 * 75 / 70, 1000, 75 / 70))
    assert rows(got)[("translation", HAIKU)].en == 500
    assert rows(got)[("translation", SONNET)].ko == 500
    assert ("normal", HAIKU) not in got.index  # its only dialog has no token count
    # Overall: Korean 80 tokens for 80 characters, English 110 for 140.
    assert analytics.korean_premium(CELLS, EVERYTHING) == pytest.approx(1 / (110 / 140))
    assert analytics.korean_premium(CELLS, CellFilter(models=[HAIKU])) is None  # no Korean


SUMMARY_COLUMNS = [
    "dialogs",
    "input_tokens",
    "output_tokens",
    "cost_usd",
    "krw",
    "down_rate",
    "error_rate",
    "stop_rate",
    "cut",
    "ttft_p50_ms",
    "ttft_p90_ms",
    "cache_hit_rate",
]
VALUE_COLUMNS = {"normal", "translation", HAIKU, SONNET, "stream_failed", "throttled"}
VALUE_COLUMNS |= {f"{model} {stat}" for model in (HAIKU, SONNET) for stat in ("p50", "p90")}
FRAMES: dict[str, Callable[..., pd.DataFrame]] = {
    "per_day": analytics.per_day,
    "cost_per_day": analytics.cost_per_day,
    "breakdown mode": partial(analytics.breakdown, by="mode"),
    "breakdown model": partial(analytics.breakdown, by="model_id", krw_per_usd=1400),
    "breakdown day": partial(analytics.breakdown, by="day"),
    "stops_by_mode": analytics.stops_by_mode,
    "cuts_per_day": analytics.cuts_per_day,
    "errors_by_kind": analytics.errors_by_kind,
    "errors_per_day": analytics.errors_per_day,
    "feedback": analytics.feedback,
    "down_reasons": analytics.down_reasons,
    "ttft_per_model_day": analytics.ttft_per_model_day,
    "cache_hits_per_day": analytics.cache_hits_per_day,
    "tokens_per_1000_chars": analytics.tokens_per_1000_chars,
}


@pytest.mark.parametrize("name", FRAMES)
def test_nothing_counted_is_an_empty_frame_with_the_columns(name: str) -> None:
    build = FRAMES[name]
    full = build(CELLS, EVERYTHING)
    for empty in (build({}, EVERYTHING), build(CELLS, CellFilter(modes=["no such mode"]))):
        assert empty.empty
        # Columns named by the values counted (modes, models, kinds) are none; others stay.
        fixed = [column for column in full.columns if column not in VALUE_COLUMNS]
        assert list(empty.columns) == fixed
        assert empty.index.names == full.index.names


def test_nothing_counted_in_totals_users_and_premium() -> None:
    nothing = analytics.totals({}, EVERYTHING)
    assert (nothing.dialogs, nothing.cost_usd, nothing.cut, nothing.ttft_p50_ms) == (0, 0, 0, None)
    assert math.isnan(nothing.down_rate) and math.isnan(nothing.cache_hit_rate)
    assert analytics.totals(CELLS, CellFilter(models=["no such model"])).dialogs == 0
    users = analytics.user_table([], EVERYTHING, krw_per_usd=1400)
    assert users.empty and "krw" in users.columns and "last_active" in users.columns
    assert analytics.korean_premium({}, EVERYTHING) is None


@pytest.mark.parametrize("name", FRAMES)
def test_a_cell_table_gives_what_the_cells_give(name: str) -> None:
    table = analytics.cell_table(CELLS)
    assert analytics.cell_table(table) is table
    only = CellFilter(statuses=["complete", "stopped", "error"])
    pd.testing.assert_frame_equal(FRAMES[name](table, only), FRAMES[name](CELLS, only))


def test_sums_equal_a_recount_of_the_dialogs_under_any_filter() -> None:
    """Random dialogs and filters: each sum is what counting the dialogs gives."""
    rng = random.Random(5)
    dialogs = [
        turn(
            rng.choice(["u1", "u2", "u3"]),
            rng.uniform(0, 24 * 5),
            mode=rng.choice(["normal", "translation", "grammar"]),
            model_id=rng.choice([SONNET, HAIKU]),
            status=rng.choice(["complete", "complete", "stopped", "cut", "error", "incomplete"]),
            type=rng.choice(["text", "document"]),
            feedback=rng.choice([None, None, "up", "down"]),
            msg=rng.choice([KO, EN, ""]) * rng.randint(1, 5),
            input_tokens=rng.randint(1, 500),
            cache_read_tokens=rng.choice([0, 50]),
            output_tokens=rng.randint(1, 200),
            cost_microusd=rng.randint(0, 5000),
            conversation_id=rng.choice(["x", "y", "z"]),
        )
        for _ in range(300)
    ]
    counted = rollups.tally(dialogs, SEOUL)
    table = analytics.cell_table(counted.cells)
    users = rollups.user_rollups(counted.slices, counted.conversations)
    for _ in range(25):
        only = CellFilter(
            modes=rng.sample(["normal", "translation", "grammar"], rng.randint(0, 2)),
            models=rng.sample([SONNET, HAIKU], rng.randint(0, 1)),
            statuses=rng.sample(["complete", "stopped", "cut", "error"], rng.randint(0, 3)),
            feedbacks=rng.sample(["up", "down", ""], rng.randint(0, 2)),
        )
        kept = [d for d in dialogs if only.matches(rollups.contribution(d, SEOUL).cell)]
        got = rows(analytics.breakdown(table, only, "model_id"))
        for model in {d.model_id for d in kept}:
            mine = [d for d in kept if d.model_id == model]
            rated = [d for d in mine if d.feedback]
            row = got[model]
            assert row.dialogs == len(mine)
            assert row.input_tokens == sum(d.input_tokens or 0 for d in mine)
            assert row.cost_usd == pytest.approx(sum(d.cost_microusd or 0 for d in mine) / 1e6)
            assert row.cut == sum(d.status == "cut" for d in mine)
            failed = sum(d.status in ("error", "incomplete") for d in mine)
            assert row.error_rate == pytest.approx(failed / len(mine))
            if rated:
                down = sum(d.feedback == "down" for d in rated)
                assert row.down_rate == pytest.approx(down / len(rated))
        assert set(got) == {d.model_id for d in kept}
        days = Counter(rollups.report_day(d.request_time, SEOUL) for d in kept)
        per_day = analytics.per_day(table, only).sum(axis=1)
        assert {str(day): n for day, n in per_day.items()} == days
        per_user = analytics.user_table(users, only)
        sliced = [
            d
            for d in dialogs
            if (not only.modes or d.mode in only.modes)
            and (not only.models or d.model_id in only.models)
        ]
        assert per_user["dialogs"].to_dict() == Counter(d.user_id for d in sliced)
        conversations = {(d.user_id, d.conversation_id) for d in sliced}
        assert per_user["conversations"].sum() == len(conversations)


def test_counters_back_at_zero_count_as_absent() -> None:
    """A store may keep a counter that went back to 0 (DynamoDB's ADD after a delete)."""
    zeros = {"error:unexpected": 0, "reason:unsafe": 0, f"{rollups.TTFT}3": 0, "chars:1": 0}
    with_zeros = {cell: Counter({**counts, **zeros}) for cell, counts in CELLS.items()}
    for build in FRAMES.values():
        pd.testing.assert_frame_equal(build(with_zeros, EVERYTHING), build(CELLS, EVERYTHING))
    assert analytics.totals(with_zeros, EVERYTHING) == analytics.totals(CELLS, EVERYTHING)
