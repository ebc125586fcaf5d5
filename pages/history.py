"""The analysts' page: every user's dialogs as a filterable table, with charts and export."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from chatbot import analytics
from chatbot.access import AnalystHistory
from chatbot.i18n import t, time_zone
from chatbot.modes import MODES, SUMMARY
from chatbot.safety import defuse_images
from chatbot.store import Status, StoreError
from chatbot.ui import auth, resources

PAGE_ROWS = 500  # rows sent to the browser at once; the filters and exports see them all
TABLE_TEXT_CHARS = 120  # long questions and answers are cut in the table, whole on selection

st.set_page_config(layout="wide")  # a table of many columns; the chat stays centred
lang = resources.language()
timezone = time_zone(st.context.timezone)
settings = resources.settings()
try:
    history = AnalystHistory(resources.dialog_store(settings), auth.current())
except StoreError as error:
    st.error(t("config_error", lang, detail=error))
    st.stop()

st.title(t("history_title", lang))
today = datetime.now(ZoneInfo(timezone)).date()
mode_labels = {mode.id: mode.label(lang) for mode in (*MODES.values(), SUMMARY)}

with st.container(horizontal=True):
    picked = st.date_input(t("date_range", lang), value=(today - timedelta(days=6), today))
    user_id = st.text_input(t("filter_user", lang), key="filter_user").strip() or None
filters = analytics.Filters(
    modes=st.multiselect(
        t("filter_modes", lang),
        list(mode_labels),
        format_func=mode_labels.__getitem__,
        key="filter_modes",
    ),
    statuses=st.multiselect(
        t("filter_statuses", lang), [s.value for s in Status], key="filter_statuses"
    ),
    text=st.text_input(t("filter_text", lang), icon="🔎", key="filter_text"),
)
if len(picked) != 2:
    st.stop()  # the second date of the range is still being picked
start, end = picked


def _utc(day: date) -> datetime:
    """Midnight of ``day`` in the viewer's time zone, as a UTC time."""
    return datetime.combine(day, datetime.min.time(), ZoneInfo(timezone)).astimezone(UTC)


since, until = _utc(start), _utc(end + timedelta(days=1))
source = settings.chat_history_table or settings.chat_history_db
with st.container(horizontal=True, vertical_alignment="center"):
    if st.button(t("refresh", lang), icon="🔄", key="refresh"):
        resources.browsed.clear(history, source, since, until, user_id)
    try:
        loaded = resources.browsed(history, source, since, until, user_id)
    except StoreError as error:
        st.error(t("history_failed", lang, detail=error))
        st.stop()
    local_time = loaded.at.astimezone(ZoneInfo(timezone))
    st.caption(
        t(
            "read_stats",
            lang,
            items=loaded.stats.items,
            pages=loaded.stats.pages,
            seconds=loaded.seconds,
            at=f"{local_time:%H:%M:%S}",
        )
    )
frame = analytics.apply_filters(loaded.frame, filters)
if frame.empty:
    st.info(t("history_empty", lang), icon="🗂️")
    st.stop()

with st.container(horizontal=True):
    st.metric(t("metric_dialogs", lang), f"{len(frame):,}")
    st.metric(t("metric_users", lang), f"{frame['user_id'].nunique():,}")
    median = frame["latency_ms"].median()  # <NA> when no row has one (the original's rows)
    st.metric(t("metric_latency", lang), "-" if pd.isna(median) else f"{median:,.0f} ms")
    st.metric(
        t("metric_tokens", lang),
        f"{frame['input_tokens'].sum():,} / {frame['output_tokens'].sum():,}",
    )


def show_table() -> None:
    pages = max(1, math.ceil(len(frame) / PAGE_ROWS))
    page = st.number_input(
        t("page_of", lang, pages=pages, rows=len(frame)), 1, pages, 1, key="history_page"
    )
    shown = frame.iloc[(page - 1) * PAGE_ROWS : page * PAGE_ROWS]
    view = shown.assign(
        body=shown["body"].str.slice(0, TABLE_TEXT_CHARS),
        msg=shown["msg"].str.slice(0, TABLE_TEXT_CHARS),
    )
    number = partial(st.column_config.NumberColumn, format="localized")
    selection = st.dataframe(
        view,
        hide_index=True,
        on_select="rerun",
        selection_mode="single-row",
        key="history_table",
        column_order=analytics.COLUMNS[:12],
        column_config={
            "time": st.column_config.DatetimeColumn(
                t("col_time", lang), format="YYYY-MM-DD HH:mm:ss", timezone=timezone
            ),
            "user_id": st.column_config.TextColumn(t("col_user", lang)),
            "mode": st.column_config.TextColumn(t("col_mode", lang)),
            "status": st.column_config.TextColumn(t("col_status", lang)),
            "body": st.column_config.TextColumn(t("col_question", lang), width="medium"),
            "msg": st.column_config.TextColumn(t("col_answer", lang), width="large"),
            "model_id": st.column_config.TextColumn(t("col_model", lang)),
            "input_tokens": number(t("col_input_tokens", lang)),
            "output_tokens": number(t("col_output_tokens", lang)),
            "ttft_ms": number(t("col_ttft", lang)),
            "latency_ms": number(t("col_latency", lang)),
            "feedback": st.column_config.TextColumn(t("col_feedback", lang)),
        },
    )
    rows = selection.selection.rows
    if rows:
        chosen = shown.iloc[rows[0]]
        with st.container(border=True):
            st.caption(
                defuse_images(f"{chosen['user_id']} · {chosen['mode']} · {chosen['request_time']}")
            )
            st.text(chosen["body"])
            st.markdown(defuse_images(chosen["msg"]))
    else:
        st.caption(t("select_hint", lang))
    with st.container(horizontal=True, vertical_alignment="center"):
        stamp = f"{start:%Y%m%d}-{end:%Y%m%d}"
        mask = st.checkbox(t("export_mask", lang), value=True, key="export_mask")
        for label, build, extension, mime in (
            ("export_csv", analytics.to_csv, "csv", "text/csv"),
            ("export_json", analytics.to_json, "json", "application/json"),
        ):
            st.download_button(
                t(label, lang),
                data=partial(build, frame, mask),  # built only when clicked
                file_name=f"dialogs-{stamp}.{extension}",
                mime=mime,
                icon="⬇️",
                on_click="ignore",
            )


def show_charts() -> None:
    st.subheader(t("chart_per_day", lang))
    st.bar_chart(analytics.per_day(frame, timezone))
    st.subheader(t("chart_per_mode", lang))
    st.bar_chart(analytics.per_mode(frame), horizontal=True)
    performance = analytics.daily_performance(frame, timezone)
    st.subheader(t("chart_latency", lang))
    st.line_chart(performance[["latency_p50_ms", "latency_p90_ms", "ttft_p50_ms"]])
    st.subheader(t("chart_tokens", lang))
    st.bar_chart(performance[["input_tokens", "output_tokens"]])


# Tracked tabs: only the open one is drawn, so the charts cost nothing until asked for.
table_tab, charts_tab = st.tabs(
    [t("tab_table", lang), t("tab_charts", lang)], key="history_tab", on_change="rerun"
)
with table_tab:
    if table_tab.open:
        show_table()
with charts_tab:
    if charts_tab.open:
        show_charts()
