"""Streamlit glue: the History page's controls, summary, table, conversation and export.

The totals and charts come from the rollups (a store's per-day counters, or one user's
dialogs tallied), the table from the store a page at a time: no run reads every dialog of a
range. The tabs other than the table are drawn by ``chatbot.ui.history_tabs``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import streamlit as st

from chatbot import analytics
from chatbot.access import AnalystHistory
from chatbot.config import Settings
from chatbot.i18n import t
from chatbot.modes import MODES, SUMMARY
from chatbot.rollups import CellFilter, UserRollup, day_bounds, user_rollups
from chatbot.safety import defuse_images
from chatbot.store import DialogType, Status, StoreError
from chatbot.store.base import (
    Dialog,
    DialogQuery,
    FeedbackReason,
    conversation_of,
    parse_request_time,
)
from chatbot.ui import resources
from chatbot.ui.chat_view import shown_question

PAGE_ROWS = 100  # rows of the table read and sent to the browser at once
EXPORT_ROWS = 10_000  # the newest dialogs an export holds, whole
FEEDBACKS = ("up", "down", "")  # 👍, 👎, none: a cell's feedback

# Widget keys the page sets as well as reads.
USER_KEY = "filter_user"
TAB_KEY = "history_tab"
TABLE_KEY = "history_table"
USERS_KEY = "users_table"
_OPEN_USER = "history_open_user"  # a user picked in the Users tab, applied on the next run
_CURSORS = "history_cursors"  # the table's pages so far: the cursor of each, None first
_QUERY = "history_query"  # the query those cursors belong to


@dataclass(frozen=True)
class Controls:
    """What the analyst asked for: days in the reporting time zone, and the filters."""

    first: date
    last: date
    user_id: str | None
    filter: CellFilter
    text: str

    def query(self, timezone: ZoneInfo) -> DialogQuery:
        since, until = day_bounds(self.first.isoformat(), self.last.isoformat(), timezone)
        return DialogQuery(since, until, self.filter, self.user_id, self.text)


@dataclass(frozen=True)
class Summary:
    """The rollups the totals and charts come from, and how they were read."""

    cells: analytics.CellTable
    read: resources.Read[Any]
    users: Callable[[], list[UserRollup]]  # read when the Users tab is drawn


def money(usd: float, krw_per_usd: float | None, lang: str) -> str:
    """Dollars, and won too when CHAT_KRW_PER_USD is set."""
    krw = None if krw_per_usd is None else usd * krw_per_usd
    return t("money" if krw is None else "money_krw", lang, usd=usd, krw=krw)


def short_model(model_id: str) -> str:
    """A model id as a chart's legend can show it: without its vendor and version, its
    region kept unless it is "global" (``us.anthropic.claude-haiku-4-5-20251001-v1:0`` ->
    ``claude-haiku-4-5 (us)``)."""
    parts = model_id.split(".")
    region = parts[0] if len(parts) > 2 else None  # an inference profile: region.vendor.model
    name = re.sub(r"(-\d{8})?(-v\d+(:\d+)?)?$", "", parts[-1])
    return name if region in (None, "global") else f"{name} ({region})"


def reason_label(reason: str, lang: str) -> str:
    """A 👎 reason in words; one this version does not know, as stored."""
    return t(f"reason_{reason}", lang) if reason in set(FeedbackReason) else reason


def rate(value: float | None) -> str:
    """A fraction as a percentage; "-" when nothing was counted (NaN or None)."""
    return "-" if value is None or pd.isna(value) else f"{value:.1%}"


class HistoryView:
    def __init__(
        self, history: AnalystHistory, settings: Settings, lang: str, viewer_timezone: str
    ) -> None:
        self.history = history
        self.settings = settings
        self.lang = lang
        self.viewer_timezone = viewer_timezone  # the table's times
        self.report_timezone = settings.report_timezone  # the days of everything else
        self.source = settings.chat_history_table or settings.chat_history_db
        self.mode_labels = {mode.id: mode.label(lang) for mode in (*MODES.values(), SUMMARY)}

    def take_open_user(self) -> None:
        """A user opened from the Users tab: filter on them and show the table. Applied
        before the widgets are drawn, the one time their state may be set."""
        if (user_id := st.session_state.pop(_OPEN_USER, None)) is not None:
            st.session_state[USER_KEY] = user_id
            st.session_state[TAB_KEY] = t("tab_table", self.lang)
            st.session_state.pop(USERS_KEY, None)  # back in the tab, no user is picked

    def open_user(self, user_id: str) -> None:
        st.session_state[_OPEN_USER] = user_id
        st.rerun()

    def period(self) -> tuple[date, date, str | None]:
        """The days and the user id; stops the run while the second date is being picked."""
        today = datetime.now(self.report_timezone).date()
        with st.container(horizontal=True):
            picked = st.date_input(
                t("date_range", self.lang),
                value=(today - timedelta(days=6), today),
                key="filter_days",
            )
            user_id = st.text_input(t("filter_user", self.lang), key=USER_KEY).strip() or None
        st.caption(
            t(
                "report_timezone",
                self.lang,
                report=self.settings.chat_report_timezone,
                viewer=self.viewer_timezone,
            )
        )
        if len(picked) != 2:
            st.stop()
        first, last = picked
        return first, last, user_id

    def summary(self, first: date, last: date, user_id: str | None) -> Summary:
        """The range's rollups, kept a minute; Refresh reads them again. One user's come from
        their own dialogs; a store failure stops the run with a message."""
        days = (first.isoformat(), last.isoformat())
        with st.container(horizontal=True, vertical_alignment="center"):
            if st.button(t("refresh", self.lang), icon="🔄", key="refresh"):
                resources.clear_history_reads()
            try:
                summary = self._read(days, user_id)
            except StoreError as error:
                st.error(t("history_failed", self.lang, detail=error))
                st.stop()
            local_time = summary.read.at.astimezone(ZoneInfo(self.viewer_timezone))
            st.caption(
                t(
                    "read_stats",
                    self.lang,
                    items=summary.read.stats.items,
                    seconds=summary.read.seconds,
                    at=f"{local_time:%H:%M:%S}",
                )
            )
        return summary

    def _read(self, days: tuple[str, str], user_id: str | None) -> Summary:
        if user_id is None:
            cells = resources.rollup_cells(self.history, self.source, *days)

            def users() -> list[UserRollup]:
                return resources.rollup_users(self.history, self.source, *days).value

            return Summary(cells.value, cells, users)
        tally = resources.user_tally(self.history, self.source, user_id, *days)
        rows = user_rollups(tally.value.slices, tally.value.conversations)
        return Summary(analytics.cell_table(tally.value.cells), tally, lambda: rows)

    def filters(self, first: date, last: date, user_id: str | None, summary: Summary) -> Controls:
        """The multiselects (their options include what the range holds) and the search."""
        choices = self.settings.model_choices
        kinds = summary.cells.kinds  # a cell of each combination the range holds
        seen = sorted({cell.model_id for cell in kinds} - set(choices))
        none = t("filter_none", self.lang)
        feedback_labels = {"up": "👍", "down": "👎", "": none}
        with st.container(horizontal=True):
            cell_filter = CellFilter(
                modes=tuple(
                    st.multiselect(
                        t("filter_modes", self.lang),
                        [
                            *self.mode_labels,
                            *sorted({cell.mode for cell in kinds} - set(self.mode_labels)),
                        ],
                        format_func=lambda mode: self.mode_labels.get(mode, mode),
                        key="filter_modes",
                    )
                ),
                models=tuple(
                    st.multiselect(
                        t("filter_models", self.lang),
                        [*choices, *seen],
                        format_func=lambda model: short_model(model) or none,
                        key="filter_models",
                    )
                ),
                statuses=tuple(
                    st.multiselect(
                        t("filter_statuses", self.lang), list(Status), key="filter_statuses"
                    )
                ),
                types=tuple(
                    st.multiselect(
                        t("filter_types", self.lang), list(DialogType), key="filter_types"
                    )
                ),
                feedbacks=tuple(
                    st.multiselect(
                        t("filter_feedbacks", self.lang),
                        FEEDBACKS,
                        format_func=feedback_labels.__getitem__,
                        key="filter_feedbacks",
                    )
                ),
            )
        text = st.text_input(t("filter_text", self.lang), icon="🔎", key="filter_text").strip()
        if text:
            st.caption(t("filter_text_table_only", self.lang))
        return Controls(first, last, user_id, cell_filter, text)

    def metrics(self, totals: analytics.Totals) -> None:
        lang = self.lang
        with st.container(horizontal=True):
            st.metric(t("metric_dialogs", lang), f"{totals.dialogs:,}")
            st.metric(
                t("metric_cost", lang),
                money(totals.cost_usd, self.settings.chat_krw_per_usd, lang),
            )
            st.metric(
                t("metric_tokens", lang), f"{totals.input_tokens:,} / {totals.output_tokens:,}"
            )
            st.metric(t("metric_down_rate", lang), rate(totals.down_rate))
            st.metric(t("metric_error_rate", lang), rate(totals.error_rate))
            ttft = totals.ttft_p50_ms
            st.metric(t("metric_ttft", lang), "-" if ttft is None else f"{ttft:,.0f} ms")

    # The table tab.

    def table(self, controls: Controls, matching: int) -> None:
        """A page of the matching dialogs, newest first; ``matching`` (from the rollups) is
        exact unless a text search narrows the table."""
        query = controls.query(self.report_timezone)
        cursors = self._cursors(query)
        try:
            page = resources.dialog_page(self.history, self.source, query, PAGE_ROWS, cursors[-1])
        except StoreError as error:
            st.error(t("history_failed", self.lang, detail=error))
            return
        start = (len(cursors) - 1) * PAGE_ROWS
        end = start + len(page.dialogs)
        if controls.text:
            known = f"{end:,}+" if page.cursor else f"{end:,}"
            st.caption(
                t("rows_searched", self.lang, first=min(start + 1, end), last=end, count=known)
            )
        else:
            st.caption(t("rows_of", self.lang, first=min(start + 1, end), last=end, count=matching))
        frame = analytics.dialogs_frame(page.dialogs)
        selection = st.dataframe(
            frame.assign(cost_usd=frame["cost_microusd"] / 1_000_000),
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            key=TABLE_KEY,
            column_order=_TABLE_COLUMNS,
            column_config=self._table_columns(),
        )
        with st.container(horizontal=True):
            st.button(
                t("page_previous", self.lang),
                icon="⬅️",
                key="page_previous",
                disabled=len(cursors) == 1,
                on_click=_turn_page,
                args=(cursors, None),
            )
            st.button(
                t("page_next", self.lang),
                icon="➡️",
                key="page_next",
                disabled=page.cursor is None,
                on_click=_turn_page,
                args=(cursors, page.cursor),
            )
        rows = [row for row in selection.selection.rows if row < len(page.dialogs)]
        if rows:
            self.conversation(page.dialogs[rows[0]])
        else:
            st.caption(t("select_hint", self.lang))
        self.export(query, controls, matching)

    def _cursors(self, query: DialogQuery) -> list[str | None]:
        """The stack of page cursors, started anew (with no row selected) when the query
        changes."""
        if st.session_state.get(_QUERY) != query:
            st.session_state[_QUERY] = query
            st.session_state[_CURSORS] = [None]
            st.session_state.pop(TABLE_KEY, None)
        cursors: list[str | None] = st.session_state[_CURSORS]
        return cursors

    def _table_columns(self) -> dict[str, Any]:
        lang = self.lang
        number = partial(st.column_config.NumberColumn, format="localized")
        text = st.column_config.TextColumn
        return {
            "time": st.column_config.DatetimeColumn(
                t("col_time", lang), format="YYYY-MM-DD HH:mm:ss", timezone=self.viewer_timezone
            ),
            "user_id": text(t("col_user", lang)),
            "mode": text(t("col_mode", lang)),
            "status": text(t("col_status", lang)),
            "type": text(t("col_type", lang)),
            "body": text(t("col_question", lang), width="medium"),
            "msg": text(t("col_answer", lang), width="large"),
            "model_id": text(t("col_model", lang)),
            "input_tokens": number(t("col_input_tokens", lang)),
            "output_tokens": number(t("col_output_tokens", lang)),
            "cost_usd": st.column_config.NumberColumn(t("col_cost", lang), format="dollar"),
            "ttft_ms": number(t("col_ttft", lang)),
            "latency_ms": number(t("col_latency", lang)),
            "feedback": text(t("col_feedback", lang)),
            "feedback_reason": text(t("col_reason", lang)),
            "error_kind": text(t("col_error_kind", lang)),
        }

    def conversation(self, chosen: Dialog) -> None:
        """The whole conversation of a row, as its user saw it, the row's dialog marked;
        the dialogs replaced by a regenerated or edited one collapsed."""
        try:
            dialogs = self.history.conversation(chosen.user_id, conversation_of(chosen))
            if chosen.request_time not in {d.request_time for d in dialogs}:
                whole = self.history.dialog(chosen.user_id, chosen.request_time)
                dialogs = [whole] if whole else []
        except StoreError as error:
            st.error(t("history_failed", self.lang, detail=error))
            return
        with st.container(border=True):
            st.subheader(t("conversation_heading", self.lang, user=chosen.user_id))
            if not dialogs:
                st.info(t("conversation_gone", self.lang))
            for dialog in dialogs:
                selected = dialog.request_time == chosen.request_time
                if dialog.superseded_by:
                    label = t("replaced_dialog", self.lang, time=self._time(dialog))
                    with st.expander(label, expanded=selected, icon="🔁"):
                        self._dialog(dialog, selected)
                else:
                    self._dialog(dialog, selected)

    def _dialog(self, dialog: Dialog, selected: bool) -> None:
        with st.container(border=selected):
            if selected:
                st.caption(t("selected_dialog", self.lang))
            with st.chat_message("user"):
                st.markdown(defuse_images(shown_question(dialog.type, dialog.body)))
            with st.chat_message("assistant"):
                if dialog.msg:
                    st.markdown(defuse_images(dialog.msg))
                st.caption(defuse_images(self._details(dialog)))

    def _details(self, dialog: Dialog) -> str:
        """Under an answer: when, how, and what it cost and got."""
        parts = [self._time(dialog), dialog.mode or "normal", dialog.model_id or "", dialog.status]
        if dialog.output_tokens is not None:
            parts.append(
                t(
                    "usage_tokens",
                    self.lang,
                    input=dialog.input_tokens or 0,
                    output=dialog.output_tokens,
                )
            )
        if dialog.cost_microusd is not None:
            usd, per_usd = dialog.cost_microusd / 1e6, self.settings.chat_krw_per_usd
            krw = None if per_usd is None else usd * per_usd
            parts.append(
                t("usage_cost" if krw is None else "usage_cost_krw", self.lang, usd=usd, krw=krw)
            )
        if dialog.error_kind:
            parts.append(dialog.error_kind)
        if dialog.feedback:
            rating = "👍" if dialog.feedback == "up" else "👎"
            if dialog.feedback_reason:
                rating += " " + reason_label(dialog.feedback_reason, self.lang)
            if dialog.feedback_comment:
                rating += f" “{dialog.feedback_comment}”"
            parts.append(rating)
        return " · ".join(part for part in parts if part)

    def _time(self, dialog: Dialog) -> str:
        at = parse_request_time(dialog.request_time)
        return f"{at.astimezone(ZoneInfo(self.viewer_timezone)):%Y-%m-%d %H:%M:%S}"

    def export(self, query: DialogQuery, controls: Controls, matching: int) -> None:
        """The matching dialogs, whole, as CSV or JSON: the newest EXPORT_ROWS at most,
        read only when a button is clicked."""
        limit = EXPORT_ROWS
        with st.container(horizontal=True, vertical_alignment="center"):
            mask = st.checkbox(t("export_mask", self.lang), value=True, key="export_mask")
            stamp = f"{controls.first:%Y%m%d}-{controls.last:%Y%m%d}"
            for label, build, extension, mime in (
                ("export_csv", analytics.to_csv, "csv", "text/csv"),
                ("export_json", analytics.to_json, "json", "application/json"),
            ):
                st.download_button(
                    t(label, self.lang),
                    data=partial(self._exported, query, limit, build, mask),
                    file_name=f"dialogs-{stamp}.{extension}",
                    mime=mime,
                    icon="⬇️",
                    on_click="ignore",
                )
        if controls.text:
            st.caption(t("export_bounded", self.lang, rows=limit))
        elif matching > limit:
            st.caption(t("export_cut", self.lang, rows=limit, count=matching))

    def _exported(
        self,
        query: DialogQuery,
        limit: int,
        build: Callable[[pd.DataFrame, bool], bytes],
        mask: bool,
    ) -> bytes:
        dialogs: list[Dialog] = []
        cursor: str | None = None
        # A page may stop short of its limit (DynamoDB bounds what one call reads): go on.
        while len(dialogs) < limit:
            page = self.history.page(query, limit - len(dialogs), cursor, text_chars=None)
            dialogs += page.dialogs
            if (cursor := page.cursor) is None:
                break
        return build(analytics.dialogs_frame(dialogs), mask)


_TABLE_COLUMNS = (
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
    "cost_usd",
    "ttft_ms",
    "latency_ms",
    "feedback",
    "feedback_reason",
    "error_kind",
)


def _turn_page(cursors: list[str | None], cursor: str | None) -> None:
    """Next (a cursor) or Previous (None); the selected row belonged to the other page."""
    if cursor is None:
        cursors.pop()
    else:
        cursors.append(cursor)
    st.session_state.pop(TABLE_KEY, None)
