import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pandas as pd

from chatbot import analytics
from chatbot.i18n import time_zone
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


def test_filters_combine() -> None:
    built = frame()
    assert len(analytics.apply_filters(built, analytics.Filters())) == 6
    translations = analytics.apply_filters(built, analytics.Filters(modes=["translation"]))
    assert set(translations["mode"]) == {"translation"}
    errors = analytics.apply_filters(built, analytics.Filters(statuses=["error"]))
    assert list(errors["body"]) == ["질문 0", "질문 3"]
    both = analytics.Filters(statuses=["complete"], text="ANSWER 5")
    assert list(analytics.apply_filters(built, both)["body"]) == ["질문 5"]
    assert list(analytics.apply_filters(built, analytics.Filters(text="질문 4"))["body"]) == [
        "질문 4"
    ]
    assert analytics.apply_filters(built, analytics.Filters(text="(")).empty  # not a regex


def test_per_day_follows_the_viewers_time_zone() -> None:
    built = frame()  # 23:30 UTC on the 20th to 04:30 UTC on the 21st
    assert analytics.per_day(built).sum(axis=1).tolist() == [1, 5]
    assert analytics.per_day(built, "Asia/Seoul").sum(axis=1).tolist() == [6]
    assert analytics.per_mode(built).to_dict() == {"normal": 3, "translation": 3}


def test_daily_performance() -> None:
    performance = analytics.daily_performance(frame(), "Asia/Seoul")
    assert performance["latency_p50_ms"].iloc[0] == 1250
    assert performance["output_tokens"].iloc[0] == sum(20 + i for i in range(6))


def test_csv_opens_in_excel_with_korean_and_keeps_every_row() -> None:
    built = frame()
    data = analytics.to_csv(built)
    assert data.startswith("\ufeff".encode())
    back = pd.read_csv(pd.io.common.BytesIO(data), encoding="utf-8-sig")
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
