"""Dialogs as a table for analysts: filtering, summaries and export, all on pandas."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pandas as pd

from chatbot.access import AnalystHistory
from chatbot.masking import mask_personal_data
from chatbot.store.base import FIELDS, Dialog, ReadStats

# Column order of the table and of the exports: when, who, what, then the measurements.
COLUMNS: tuple[str, ...] = (
    "time",
    "user_id",
    "mode",
    "status",
    "type",
    "body",
    "msg",
    "model_id",
    "input_tokens",
    "output_tokens",
    "ttft_ms",
    "latency_ms",
    "feedback",
    "feedback_reason",
    "feedback_comment",
    "trimmed_chars",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_microusd",
    "stop_reason",
    "error_kind",
    "superseded_by",
    "conversation_id",
    "session_id",
    "request_id",
    "request_time",
)
_NUMBERS = (
    "input_tokens",
    "output_tokens",
    "ttft_ms",
    "latency_ms",
    "trimmed_chars",
    "cache_read_tokens",
    "cache_write_tokens",
    "cost_microusd",
)


@dataclass(frozen=True)
class Loaded:
    """A range's dialogs as a frame, with what reading them cost."""

    frame: pd.DataFrame
    stats: ReadStats
    seconds: float
    at: datetime


def load(
    history: AnalystHistory, since: datetime, until: datetime, user_id: str | None = None
) -> Loaded:
    began = time.perf_counter()
    dialogs, stats = history.browse(since, until, user_id=user_id)
    frame = dialogs_frame(dialogs)
    return Loaded(frame, stats, time.perf_counter() - began, datetime.now(UTC))


def dialogs_frame(dialogs: Iterable[Dialog]) -> pd.DataFrame:
    """One row per dialog, ``time`` as a UTC timestamp, numbers as nullable integers."""
    # Object columns: pandas' string dtype would copy 100,000 long texts into Arrow buffers
    # (about a second) before the page shows a few hundred of them.
    frame = pd.DataFrame(list(dialogs), columns=list(FIELDS), dtype=object)
    # The first 23 characters are the time in both key formats (ISO 8601 takes the
    # original's space as well as a T).
    frame["time"] = pd.to_datetime(
        frame["request_time"].str.slice(0, 23), utc=True, format="ISO8601"
    )
    frame[list(_NUMBERS)] = frame[list(_NUMBERS)].astype("Int64")
    frame["mode"] = frame["mode"].fillna("normal")  # rows of the original system have none
    return frame[list(COLUMNS)]


@dataclass(frozen=True)
class Filters:
    """What the analyst narrowed the table to; empty means everything."""

    modes: Sequence[str] = ()
    statuses: Sequence[str] = ()
    text: str = ""


def apply_filters(frame: pd.DataFrame, filters: Filters) -> pd.DataFrame:
    keep = pd.Series(True, index=frame.index)
    if filters.modes:
        keep &= frame["mode"].isin(filters.modes)
    if filters.statuses:
        keep &= frame["status"].isin(filters.statuses)
    if text := filters.text.strip():
        keep &= frame["body"].str.contains(text, case=False, regex=False) | frame[
            "msg"
        ].str.contains(text, case=False, regex=False)
    return frame[keep]


def per_day(frame: pd.DataFrame, timezone: str = "UTC") -> pd.DataFrame:
    """Dialogs per day and mode (columns), in the viewer's time zone."""
    days = frame["time"].dt.tz_convert(timezone).dt.date
    return frame.groupby([days, "mode"]).size().unstack(fill_value=0).rename_axis("day")


def per_mode(frame: pd.DataFrame) -> pd.Series:
    return frame["mode"].value_counts().rename_axis("mode").rename("dialogs")


def daily_performance(frame: pd.DataFrame, timezone: str = "UTC") -> pd.DataFrame:
    """Per day: median and 90th percentile latency, median time to first token, tokens."""
    days = frame["time"].dt.tz_convert(timezone).dt.date.rename("day")
    grouped = frame.groupby(days)
    return pd.DataFrame(
        {
            "latency_p50_ms": grouped["latency_ms"].median(),
            "latency_p90_ms": grouped["latency_ms"].quantile(0.9),
            "ttft_p50_ms": grouped["ttft_ms"].median(),
            "input_tokens": grouped["input_tokens"].sum(),
            "output_tokens": grouped["output_tokens"].sum(),
        }
    )


# A cell starting with one of these is a formula to Excel (tab and CR too, per OWASP's CSV
# injection advice): a question like "=HYPERLINK(...)" must stay text in an analyst's sheet.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _as_text_cell(value: object) -> object:
    """A text cell that Excel would run as a formula, behind a quote; anything else as is."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


# The columns that hold what users wrote or were told, and their ids (e-mails, when signed in).
_PERSONAL_COLUMNS = ("user_id", "body", "msg", "feedback_comment", "document_text")


def masked(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with personal data masked in the columns that can hold it."""
    present = [name for name in _PERSONAL_COLUMNS if name in frame.columns]
    return frame.assign(
        **{name: frame[name].map(_masked_cell, na_action="ignore") for name in present}
    )


def _masked_cell(value: object) -> object:
    return mask_personal_data(value) if isinstance(value, str) else value


def to_csv(frame: pd.DataFrame, mask: bool = False) -> bytes:
    """UTF-8 with a byte-order mark: Excel then opens Korean text correctly.

    Text cells that Excel would read as a formula are prefixed with ``'``; numbers and
    times are not text and stay as they are. ``mask``: personal data masked first.
    """
    frame = masked(frame) if mask else frame
    text_columns = frame.select_dtypes(include=["object", "str"]).columns
    safe = frame.assign(**{name: frame[name].map(_as_text_cell) for name in text_columns})
    # CRLF rows (RFC 4180): the csv module quotes only the line terminator's characters, so
    # with "\n" a bare "\r" in an answer would stay unquoted, end the row for Excel and start
    # the next one with text the prefix above never saw.
    return safe.to_csv(
        index=False, date_format="%Y-%m-%dT%H:%M:%S.%fZ", lineterminator="\r\n"
    ).encode("utf-8-sig")


def to_json(frame: pd.DataFrame, mask: bool = False) -> bytes:
    """A JSON array of records, Korean kept as is, times in ISO 8601 UTC; ``mask``:
    personal data masked first."""
    frame = masked(frame) if mask else frame
    return frame.to_json(
        orient="records", force_ascii=False, date_format="iso", date_unit="ms"
    ).encode("utf-8")
