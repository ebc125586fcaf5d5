"""The analysts' History page through AppTest, on a SQLite store filled by the test."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from streamlit import dataframe_util
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from chatbot import analytics
from chatbot.rollups import CellFilter, tally
from chatbot.store.base import Dialog, StoreError, format_request_time
from chatbot.store.sqlite import SqliteStore
from chatbot.ui import history_view
from tests.factories import make_dialog

APP = str(Path(__file__).parents[1] / "app.py")
NOW = datetime.now(UTC)
SONNET = "global.anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "global.anthropic.claude-haiku-4-5-20251001-v1:0"
SEOUL = history_view.ZoneInfo("Asia/Seoul")


def dialog(i: int, **changes: Any) -> Dialog:
    """The i-th dialog of the fixture, i hours ago: every filter's dimension varies."""
    user = ("alice", "bob", "김철수")[i % 3]
    status = ("complete", "complete", "stopped", "cut", "error")[i % 5]
    values: dict[str, Any] = dict(
        body=f"질문 {i}",
        msg=f"answer {i}" if i % 2 else f"답변 {i}입니다",
        mode=("normal", "translation", "pii", "grammar")[i % 4],
        model_id=(SONNET, HAIKU)[i % 2],
        status=status,
        error_kind="throttled" if status == "error" else None,
        type="document" if i % 6 == 0 else "text",
        feedback={0: "up", 1: "down"}.get(i % 8),
        feedback_reason="inaccurate" if i % 8 == 1 and i % 16 == 1 else None,
        latency_ms=1000 + i,
        cost_microusd=1000 * (i + 1),
        conversation_id=f"{user}-{i // 12}",
    )
    return make_dialog(user, NOW - timedelta(hours=i), **{**values, **changes})


def store() -> SqliteStore:
    return SqliteStore(os.environ["CHAT_HISTORY_DB"])


@pytest.fixture
def filled() -> list[Dialog]:
    """40 dialogs of the last 40 hours (inside the default week), and one a month old."""
    dialogs = [dialog(i) for i in range(40)]
    old = dialog(99, request_time=format_request_time(NOW - timedelta(days=30), "x"))
    for d in [*dialogs, old]:
        store().put(d)
    return dialogs


def open_history(**env: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["user"] = "analyst"  # local mode: one person, their own analyst
    at.run()
    return at.switch_page("pages/history.py").run()


def table(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value


def metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def open_tab(at: AppTest, label: str) -> AppTest:
    at.session_state[history_view.TAB_KEY] = label
    return at.run()


def select(at: AppTest, key: str, row: int) -> AppTest:
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}
    return at.run()


COLOR, VALUE = (f"{name} -- streamlit-generated" for name in ("color", "value"))


def charts(at: AppTest) -> list[pd.DataFrame]:
    """The data of every chart drawn, in order, one column per series (Streamlit sends a
    chart of several series in long form), indexed by its first column (the x axis)."""
    drawn = []
    for chart in at.get("vega_lite_chart"):
        data = dataframe_util.convert_arrow_bytes_to_pandas_df(chart.proto.datasets[0].data.data)
        x = data.columns[0]
        if COLOR in data.columns:
            drawn.append(data.pivot(index=x, columns=COLOR, values=VALUE))
        else:
            drawn.append(data.set_index(x))
    return drawn


def same(drawn: pd.DataFrame, expected: pd.DataFrame | pd.Series) -> bool:
    """Whether a chart holds these numbers: its index as text, its series in any order."""
    frame = expected.to_frame() if isinstance(expected, pd.Series) else expected
    frame = frame.set_axis(frame.index.map(str))
    drawn = drawn.set_axis(drawn.index.map(str)).rename_axis(None, axis=0).rename_axis(None, axis=1)
    return drawn.sort_index()[sorted(drawn.columns)].equals(
        frame.rename_axis(None).sort_index()[sorted(frame.columns)].astype(drawn.dtypes.to_dict())
    )


def test_the_first_view_shows_the_totals_and_a_page_of_the_table(filled: list[Dialog]) -> None:
    at = open_history()
    assert not at.exception
    assert len(table(at)) == 40
    assert list(table(at)["request_id"]) == [d.request_id for d in filled]  # newest first
    assert "Rows 1–40 of 40" in [c.value for c in at.caption]
    shown = metrics(at)
    assert shown["Dialogs"] == "40"
    assert shown["Cost"] == f"${sum(d.cost_microusd or 0 for d in filled) / 1e6:,.2f}"
    assert shown["Tokens (in/out)"] == f"{12 * 40:,} / {34 * 40:,}"
    assert shown["Error rate"] == "20.0%"  # every fifth
    assert shown["👎 rate"] == "50.0%"  # i % 8 == 0 up, == 1 down
    assert (
        shown["Median first token"]
        == f"{analytics.totals(tally(filled, SEOUL).cells, CellFilter()).ttft_p50_ms:,.0f} ms"
    )
    assert any(c.value.startswith("Read ") for c in at.caption)
    assert "Asia/Seoul" in "".join(c.value for c in at.caption)


def test_the_page_reads_rollups_and_one_page_never_a_whole_range(
    filled: list[Dialog], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, Any]] = []
    for name in ("rollup_cells", "rollup_users", "dialog_page", "user_dialogs"):
        read = getattr(SqliteStore, name)

        def spy(self, *args, _read=read, _name=name, **kwargs):
            calls.append((_name, args[1] if _name == "dialog_page" else None))
            return _read(self, *args, **kwargs)

        monkeypatch.setattr(SqliteStore, name, spy)
    at = open_history()
    assert calls == [("rollup_cells", None), ("dialog_page", history_view.PAGE_ROWS)]
    at.multiselect(key="filter_modes").set_value(["pii"]).run()  # the cells are kept
    assert calls[2:] == [("dialog_page", history_view.PAGE_ROWS)]
    open_tab(at, "Users")  # the per-user rows: only now
    assert calls[3:] == [("rollup_users", None)]
    at.text_input(key="filter_user").set_value("bob").run()  # one user's own dialogs
    assert [name for name, _ in calls[4:]] == ["user_dialogs"]


@pytest.mark.parametrize(
    ("key", "value", "keep"),
    [
        ("filter_modes", ["translation"], lambda d: d.mode == "translation"),
        ("filter_models", [HAIKU], lambda d: d.model_id == HAIKU),
        ("filter_statuses", ["error", "stopped"], lambda d: d.status in ("error", "stopped")),
        ("filter_types", ["document"], lambda d: d.type == "document"),
        ("filter_feedbacks", ["down"], lambda d: d.feedback == "down"),
        ("filter_feedbacks", [""], lambda d: d.feedback is None),
    ],
    ids=["mode", "model", "status", "type", "feedback", "no-feedback"],
)
def test_each_filter_narrows_the_table_and_the_totals(
    filled: list[Dialog], key: str, value: list[str], keep: Callable[[Dialog], bool]
) -> None:
    at = open_history()
    at.multiselect(key=key).set_value(value).run()
    assert not at.exception
    expected = [d.request_id for d in filled if keep(d)]
    assert 0 < len(expected) < 40
    assert list(table(at)["request_id"]) == expected
    assert metrics(at)["Dialogs"] == str(len(expected))
    assert f"Rows 1–{len(expected)} of {len(expected)}" in [c.value for c in at.caption]


def test_a_user_filter_counts_that_users_dialogs(filled: list[Dialog]) -> None:
    at = open_history()
    at.text_input(key="filter_user").set_value("김철수").run()
    expected = [d for d in filled if d.user_id == "김철수"]
    assert set(table(at)["user_id"]) == {"김철수"} and len(table(at)) == len(expected) == 13
    assert metrics(at)["Dialogs"] == "13"
    assert metrics(at)["Cost"] == f"${sum(d.cost_microusd or 0 for d in expected) / 1e6:,.2f}"


def test_the_text_search_narrows_the_table_only(filled: list[Dialog]) -> None:
    at = open_history()
    at.text_input(key="filter_text").set_value("ANSWER 1").run()  # every word, any case
    expected = [d.request_id for d in filled if "answer" in d.msg and "1" in d.body]
    assert list(table(at)["request_id"]) == expected and len(expected) == 8
    assert metrics(at)["Dialogs"] == "40"  # the totals do not search
    captions = [c.value for c in at.caption]
    assert "Rows 1–8 of 8 matches" in captions
    assert any("totals and charts count every dialog" in c for c in captions)


def test_paging_goes_forward_and_back_over_250_dialogs() -> None:
    dialogs = [make_dialog("alice", NOW - timedelta(minutes=i), body=f"q{i}") for i in range(250)]
    for d in dialogs:
        store().put(d)
    at = open_history()
    assert list(table(at)["body"]) == [f"q{i}" for i in range(100)]
    assert at.button(key="page_previous").disabled
    at.button(key="page_next").click().run()
    assert list(table(at)["body"]) == [f"q{i}" for i in range(100, 200)]
    assert "Rows 101–200 of 250" in [c.value for c in at.caption]
    at.button(key="page_next").click().run()
    assert list(table(at)["body"]) == [f"q{i}" for i in range(200, 250)]
    assert at.button(key="page_next").disabled
    at.button(key="page_previous").click().run()
    assert list(table(at)["body"]) == [f"q{i}" for i in range(100, 200)]
    at.multiselect(key="filter_modes").set_value(["normal"]).run()  # a new query: page one
    assert list(table(at)["body"]) == [f"q{i}" for i in range(100)]


def test_a_selected_row_opens_its_whole_conversation(filled: list[Dialog]) -> None:
    replaced = dialog(102, conversation_id="alice-0", superseded_by="later", msg="옛 답변")
    store().put(replaced)
    at = open_history()
    row = next(n for n, d in enumerate(filled) if d.conversation_id == "alice-0")
    select(at, history_view.TABLE_KEY, row)
    assert not at.exception
    conversation = [d for d in filled if d.conversation_id == "alice-0"]
    assert at.subheader[0].value == "Conversation of alice"
    answers = [m.markdown[0].value for m in at.chat_message if m.name == "assistant"]
    expected = [d.msg for d in sorted([*conversation, replaced], key=lambda d: d.request_time)]
    assert answers == expected  # whole, oldest first, the replaced one too
    when = history_view.parse_request_time(replaced.request_time)  # shown in UTC here
    assert [e.label for e in at.expander] == [
        f"{when:%Y-%m-%d %H:%M:%S} · replaced (regenerated or edited)"
    ]
    assert "👉 The selected dialog" in [c.value for c in at.caption]


def test_opening_a_user_in_the_users_tab_filters_the_table_on_them(
    filled: list[Dialog],
) -> None:
    at = open_history()
    open_tab(at, "Users")
    users = at.dataframe[0].value
    assert list(users["user_id"])[:1] and set(users["user_id"]) == {"alice", "bob", "김철수"}
    row = list(users["user_id"]).index("bob")
    select(at, history_view.USERS_KEY, row)
    assert not at.exception
    assert at.text_input(key="filter_user").value == "bob"
    assert at.session_state[history_view.TAB_KEY] == "Table"
    assert set(table(at)["user_id"]) == {"bob"}
    assert history_view.USERS_KEY not in at.session_state
    open_tab(at, "Users")  # back to the users: no drill-down again
    assert at.session_state[history_view.TAB_KEY] == "Users"
    assert list(at.dataframe[0].value["user_id"]) == ["bob"]


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> dict[str, Callable[[], bytes]]:
    """The page's download buttons' data, by file extension, built when called."""
    captured: dict[str, Callable[[], bytes]] = {}
    register = MediaFileManager.add_deferred

    def capture(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        captured[Path(file_name).suffix] = data_callable
        return register(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", capture)
    return captured


def csv_rows(exports: dict[str, Callable[[], bytes]]) -> pd.DataFrame:
    return pd.read_csv(io.BytesIO(exports[".csv"]()), encoding="utf-8-sig")


def test_export_contains_exactly_the_filtered_dialogs_whole(
    filled: list[Dialog], exports: dict[str, Callable[[], bytes]]
) -> None:
    long = dialog(0, body="긴 질문 " * 100, mode="pii")
    store().put(long)
    at = open_history()
    at.multiselect(key="filter_modes").set_value(["pii"]).run()
    expected = [long, *(d for d in filled if d.mode == "pii")]
    csv = csv_rows(exports)
    assert list(csv["request_id"]) == [d.request_id for d in expected]
    assert list(csv["body"]) == [d.body for d in expected]  # not cut like the table's
    json_rows = pd.read_json(io.BytesIO(exports[".json"]()))
    assert list(json_rows["request_id"]) == [d.request_id for d in expected]
    assert not [c.value for c in at.caption if "Exports hold" in c.value]


def test_exports_hold_the_newest_export_rows_and_say_so(
    filled: list[Dialog], exports: dict[str, Callable[[], bytes]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(history_view, "EXPORT_ROWS", 5)
    at = open_history()
    assert list(csv_rows(exports)["request_id"]) == [d.request_id for d in filled[:5]]
    assert "Exports hold the newest 5 of the 40 dialogs." in [c.value for c in at.caption]


def test_exports_mask_personal_data_unless_asked_not_to(
    exports: dict[str, Callable[[], bytes]],
) -> None:
    private = "제 번호는 010-1234-5678, 메일은 kim@example.com 이에요"
    store().put(dialog(1, body=private, msg="주민번호 900101-1234567"))
    at = open_history()
    assert at.checkbox(key="export_mask").value  # on unless unticked
    csv = csv_rows(exports)
    assert list(csv["body"]) == ["제 번호는 [전화번호], 메일은 [이메일] 이에요"]
    assert list(csv["msg"]) == ["주민번호 [주민등록번호]"]
    assert "010-1234-5678" not in exports[".json"]().decode()
    at.checkbox(key="export_mask").uncheck().run()
    assert list(csv_rows(exports)["body"]) == [private]


def test_no_dialogs_shows_the_empty_state() -> None:
    at = open_history()
    assert not at.exception
    assert "No dialogs match" in at.info[0].value
    assert len(at.dataframe) == 0


@pytest.mark.parametrize(
    ("read", "tab"),
    [("rollup_cells", "Table"), ("dialog_page", "Table"), ("rollup_users", "Users")],
)
def test_a_store_failure_is_a_message(
    filled: list[Dialog], monkeypatch: pytest.MonkeyPatch, read: str, tab: str
) -> None:
    def broken(self, *args, **kwargs):
        raise StoreError("table 'chat' is missing")

    monkeypatch.setattr(SqliteStore, read, broken)
    at = open_tab(open_history(), tab)
    assert not at.exception
    assert "table 'chat' is missing" in at.error[0].value


def test_reruns_reuse_the_reads_and_refresh_reads_again(filled: list[Dialog]) -> None:
    at = open_history()
    store().put(dialog(0, body="새 질문"))
    at.multiselect(key="filter_modes").set_value([]).run()  # any interaction: a rerun
    assert len(table(at)) == 40 and metrics(at)["Dialogs"] == "40"
    at.button(key="refresh").click().run()
    assert len(table(at)) == 41 and metrics(at)["Dialogs"] == "41"


def test_rows_without_timings_and_an_unknown_time_zone_still_show() -> None:
    legacy = dialog(
        1,
        latency_ms=None,
        ttft_ms=None,
        input_tokens=None,
        output_tokens=None,
        cost_microusd=None,
        model_id=None,
        mode=None,
    )
    store().put(legacy._replace(request_time=f"{NOW - timedelta(hours=1):%Y-%m-%d %H:%M:%S}"))
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["user"] = "analyst"
    at.context["timezone"] = "Mars/Olympus_Mons"
    at.run()
    at = at.switch_page("pages/history.py").run()
    assert not at.exception
    assert metrics(at)["Dialogs"] == "1" and metrics(at)["Median first token"] == "-"
    for tab in ("Cost", "Users", "Models & modes", "Quality"):
        open_tab(at, tab)
        assert not at.exception, tab


def test_cost_shows_per_day_model_and_mode_and_totals_in_won_when_set(
    filled: list[Dialog], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_KRW_PER_USD", "1400")
    at = open_history()
    usd = sum(d.cost_microusd or 0 for d in filled) / 1e6
    assert metrics(at)["Cost"] == f"${usd:,.2f} (₩{usd * 1400:,.0f})"
    open_tab(at, "Cost")
    assert not at.exception
    assert [s.value for s in at.subheader] == [
        "Cost per day, by model ($)",
        "Cost per model",
        "Cost per mode",
    ]
    per_1000 = usd / 40 * 1000
    assert metrics(at)["Cost per 1,000 dialogs"] == f"${per_1000:,.2f} (₩{per_1000 * 1400:,.0f})"
    cells = tally(filled, SEOUL).cells
    per_day = analytics.cost_per_day(cells, CellFilter())
    [chart] = charts(at)
    assert same(chart, per_day[[SONNET, HAIKU]].rename(columns=history_view.short_model))
    per_model, per_mode = (table.value for table in at.dataframe)
    assert per_model["cost_usd"].sum() == pytest.approx(usd)
    assert list(per_model["krw"]) == pytest.approx(list(per_model["cost_usd"] * 1400))
    assert set(per_model["model_id"]) == {SONNET, HAIKU}
    assert set(per_mode["mode"]) == {"normal", "translation", "pii", "grammar"}


def test_models_and_modes_tab_breaks_the_totals_down(filled: list[Dialog]) -> None:
    at = open_history()
    at.multiselect(key="filter_statuses").set_value(["complete"]).run()
    open_tab(at, "Models & modes")
    assert not at.exception
    only, cells = CellFilter(statuses=("complete",)), tally(filled, SEOUL).cells
    [chart] = charts(at)
    assert same(chart, analytics.per_day(cells, only))
    per_model, per_mode = (table.value for table in at.dataframe)
    for shown, by in ((per_model, "model_id"), (per_mode, "mode")):  # ties in any order
        expected = analytics.breakdown(cells, only, by).sort_index()
        assert shown.set_index(by).sort_index().equals(expected)
    assert per_mode["dialogs"].sum() == 16  # i % 5 in (0, 1)... of 40: 16 complete


def test_each_quality_chart_draws_the_filtered_rollups(filled: list[Dialog]) -> None:
    at = open_history()
    at.multiselect(key="filter_types").set_value(["text"]).run()  # the charts follow it
    open_tab(at, "Quality")
    assert not at.exception
    assert [s.value for s in at.subheader] == [
        "Stops per mode",
        "Cut answers per day",
        "Errors by kind",
        "👎 rate per day",
        "👎 reasons",
        "Time to first token per model (ms)",
        "Prompt cache hit rate per day",
        "Output tokens per 1,000 answer characters",
    ]
    assert len(at.caption) >= 8  # each says what it means
    only, cells = CellFilter(types=("text",)), tally(filled, SEOUL).cells
    cuts, errors, feedback, reasons, ttft, cache_hits = charts(at)
    assert same(cuts, analytics.cuts_per_day(cells, only)[["cut"]])
    assert same(errors, analytics.errors_by_kind(cells, only))
    failed = [d for d in filled if d.status == "error" and d.type == "text"]
    assert errors.to_dict() == {"dialogs": {"throttled": len(failed)}}
    assert same(feedback, analytics.feedback(cells, only)[["down_rate"]])
    labels = {"inaccurate": "Inaccurate", "unspecified": "No reason given"}
    assert same(reasons, analytics.down_reasons(cells, only).rename(index=labels))
    short = {
        f"{model} {stat}": f"{history_view.short_model(model)} {stat}"
        for model in (SONNET, HAIKU)
        for stat in ("p50", "p90")
    }
    assert same(ttft, analytics.ttft_per_model_day(cells, only).rename(columns=short))
    assert same(cache_hits, analytics.cache_hits_per_day(cells, only))
    stops, tokens = (table.value for table in at.dataframe)
    assert stops.set_index("mode").equals(analytics.stops_by_mode(cells, only))
    per_chars = tokens.set_index(["mode", "model_id"])
    assert per_chars.equals(analytics.tokens_per_1000_chars(cells, only))
    premium = analytics.korean_premium(cells, only)
    assert premium is not None and f"{premium - 1:+.0%}" in at.markdown[-1].value


@pytest.mark.parametrize(
    ("model_id", "short"),
    [
        (SONNET, "claude-sonnet-4-5"),
        ("us.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5 (us)"),
        ("anthropic.claude-3-haiku-20240307-v1:0", "claude-3-haiku"),
        ("meta.llama3-1-8b-instruct-v1:0", "llama3-1-8b-instruct"),
        ("", ""),
    ],
)
def test_model_ids_are_shortened_for_legends(model_id: str, short: str) -> None:
    assert history_view.short_model(model_id) == short
