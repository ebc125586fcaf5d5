"""The analysts' History page through AppTest, on a SQLite store filled by the test."""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest

from chatbot.store.base import Dialog, StoreError, format_request_time
from chatbot.store.sqlite import SqliteStore
from tests.factories import make_dialog

APP = str(Path(__file__).parents[1] / "app.py")
NOW = datetime.now(UTC)


def dialog(i: int, **changes) -> Dialog:
    values = dict(
        body=f"질문 {i}",
        msg=f"answer {i}",
        mode=("normal", "translation", "pii", "grammar")[i % 4],
        latency_ms=1000 + i,
        status="error" if i % 5 == 0 else "complete",
    )
    user = ("alice", "bob", "김철수")[i % 3]
    return make_dialog(user, NOW - timedelta(hours=i), **{**values, **changes})


@pytest.fixture
def filled() -> list[Dialog]:
    store = SqliteStore(os.environ["CHAT_HISTORY_DB"])
    dialogs = [dialog(i) for i in range(40)]  # the last 40 hours: inside the default week
    dialogs.append(dialog(99, request_time=format_request_time(NOW - timedelta(days=30), "x")))
    for d in dialogs:
        store.put(d)
    return dialogs


def open_history() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["user"] = "analyst"  # local mode: one person, their own analyst
    at.run()
    return at.switch_page("pages/history.py").run()


def table(at: AppTest) -> pd.DataFrame:
    return at.dataframe[0].value


def test_the_table_lists_every_users_dialogs_of_the_range(filled: list[Dialog]) -> None:
    at = open_history()
    assert not at.exception
    assert len(table(at)) == 40
    assert "Read 40 dialogs from the store in 1 requests" in at.caption[0].value
    assert [m.value for m in at.metric][:2] == ["40", "3"]


def test_filters_change_the_table(filled: list[Dialog]) -> None:
    at = open_history()
    at.multiselect(key="filter_modes").set_value(["translation"]).run()
    assert set(table(at)["mode"]) == {"translation"} and len(table(at)) == 10
    at.multiselect(key="filter_statuses").set_value(["error"]).run()
    assert len(table(at)) == 2  # i = 5 and 25
    at.multiselect(key="filter_modes").set_value([]).run()
    at.multiselect(key="filter_statuses").set_value([]).run()
    at.text_input(key="filter_text").set_value("질문 1").run()  # 1 and 10-19
    assert len(table(at)) == 11
    at.text_input(key="filter_text").set_value("").run()
    at.text_input(key="filter_user").set_value("김철수").run()
    assert set(table(at)["user_id"]) == {"김철수"} and len(table(at)) == 13


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


def test_export_contains_exactly_the_filtered_rows(
    filled: list[Dialog], exports: dict[str, Callable[[], bytes]]
) -> None:
    at = open_history()
    at.multiselect(key="filter_modes").set_value(["pii"]).run()
    expected = sorted(d.request_id for d in filled[:40] if d.mode == "pii")
    csv = pd.read_csv(io.BytesIO(exports[".csv"]()), encoding="utf-8-sig")
    assert sorted(csv["request_id"]) == expected
    assert set(csv["body"]) == {d.body for d in filled if d.request_id in expected}
    json_rows = pd.read_json(io.BytesIO(exports[".json"]()))
    assert sorted(json_rows["request_id"]) == expected


def test_exports_mask_personal_data_unless_asked_not_to(
    exports: dict[str, Callable[[], bytes]],
) -> None:
    private = "제 번호는 010-1234-5678, 메일은 kim@example.com 이에요"
    SqliteStore(os.environ["CHAT_HISTORY_DB"]).put(
        dialog(1, body=private, msg="주민번호 900101-1234567")
    )
    at = open_history()
    assert at.checkbox(key="export_mask").value  # on unless unticked
    csv = pd.read_csv(io.BytesIO(exports[".csv"]()), encoding="utf-8-sig")
    assert list(csv["body"]) == ["제 번호는 [전화번호], 메일은 [이메일] 이에요"]
    assert list(csv["msg"]) == ["주민번호 [주민등록번호]"]
    assert "010-1234-5678" not in exports[".json"]().decode()
    at.checkbox(key="export_mask").uncheck().run()
    assert list(pd.read_csv(io.BytesIO(exports[".csv"]()), encoding="utf-8-sig")["body"]) == [
        private
    ]


def test_no_dialogs_shows_the_empty_state() -> None:
    at = open_history()
    assert not at.exception
    assert "No dialogs match" in at.info[0].value
    assert len(at.dataframe) == 0


def test_a_store_failure_is_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(self, *args, **kwargs):
        raise StoreError("table 'chat' is missing")

    monkeypatch.setattr(SqliteStore, "browse", broken)
    at = open_history()
    assert not at.exception
    assert "table 'chat' is missing" in at.error[0].value


def test_reruns_reuse_the_read_and_refresh_reads_again(filled: list[Dialog]) -> None:
    at = open_history()
    SqliteStore(os.environ["CHAT_HISTORY_DB"]).put(dialog(0, body="새 질문"))
    at.multiselect(key="filter_modes").set_value([]).run()  # any interaction: a rerun
    assert len(table(at)) == 40  # filtering and paging do not read 100,000 rows again
    at.button(key="refresh").click().run()
    assert len(table(at)) == 41


def test_charts_are_drawn_when_their_tab_is_opened(filled: list[Dialog]) -> None:
    at = open_history()
    assert [s.value for s in at.subheader] == []  # the table tab is open: no chart work
    at.session_state["history_tab"] = "Charts"
    at.run()
    assert not at.exception
    assert [s.value for s in at.subheader] == [
        "Dialogs per day, by mode",
        "Dialogs per mode",
        "Latency per day (ms)",
        "Tokens per day",
    ]


def test_rows_without_timings_and_an_unknown_time_zone_still_show() -> None:
    store = SqliteStore(os.environ["CHAT_HISTORY_DB"])
    legacy = dialog(1, latency_ms=None, ttft_ms=None, input_tokens=None, output_tokens=None)
    store.put(legacy._replace(request_time=f"{NOW - timedelta(hours=1):%Y-%m-%d %H:%M:%S}"))
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["user"] = "analyst"
    at.context["timezone"] = "Mars/Olympus_Mons"
    at.run()
    at = at.switch_page("pages/history.py").run()
    assert not at.exception
    assert [m.value for m in at.metric][:3] == ["1", "1", "-"]
