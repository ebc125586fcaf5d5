"""Streamlit glue: the History page's Cost, Users, Models & modes and Quality tabs.

Every number comes from the rollups the page read (``chatbot.analytics`` sums them); only
the Users tab reads more, the per-user rows, and only while it is open.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pandas as pd
import streamlit as st

from chatbot import analytics
from chatbot.i18n import t
from chatbot.rollups import CellFilter
from chatbot.store import StoreError
from chatbot.ui.history_view import USERS_KEY, Summary, money, reason_label, short_model


class Charts:
    def __init__(
        self, summary: Summary, cell_filter: CellFilter, krw_per_usd: float | None, lang: str
    ) -> None:
        self.cells = summary.cells
        self.read_users = summary.users
        self.filter = cell_filter
        self.krw_per_usd = krw_per_usd
        self.lang = lang

    @staticmethod
    def _section(title: str, note: str) -> None:
        """A chart's or table's title, and a line on what it means."""
        st.subheader(title)
        st.caption(note)

    def _table(self, frame: pd.DataFrame, **kwargs: Any) -> Any:
        """A table, what it is broken down by (its index) as labelled columns."""
        return st.dataframe(
            frame.reset_index(), hide_index=True, column_config=self._columns(), **kwargs
        )

    def cost(self, totals: analytics.Totals) -> None:
        lang = self.lang
        with st.container(horizontal=True):
            st.metric(t("metric_cost", lang), money(totals.cost_usd, self.krw_per_usd, lang))
            per_1000 = 1000 * totals.cost_usd / totals.dialogs  # a dialog's is a fraction of a cent
            st.metric(t("metric_cost_per_1000", lang), money(per_1000, self.krw_per_usd, lang))
        self._section(t("chart_cost_per_day", self.lang), t("chart_cost_per_day_note", self.lang))
        per_day = analytics.cost_per_day(self.cells, self.filter)  # dollars: the chart's axis
        self._chart(st.bar_chart, self._named(per_day.drop(columns="total")))
        for by, title in (("model_id", "chart_cost_per_model"), ("mode", "chart_cost_per_mode")):
            st.subheader(t(title, lang))
            frame = analytics.breakdown(self.cells, self.filter, by, self.krw_per_usd)
            columns = ["dialogs", "input_tokens", "output_tokens", "cost_usd", "krw"]
            self._table(frame[[c for c in columns if c in frame.columns]])

    def users(self) -> str | None:
        """The per-user table; the user whose row is selected, to open their dialogs."""
        try:
            rows = self.read_users()
        except StoreError as error:
            st.error(t("history_failed", self.lang, detail=error))
            return None
        self._section(t("chart_users", self.lang), t("chart_users_note", self.lang))
        frame = analytics.user_table(rows, self.filter, self.krw_per_usd)
        selection = self._table(
            frame, on_select="rerun", selection_mode="single-row", key=USERS_KEY
        )
        picked = selection.selection.rows
        return str(frame.index[picked[0]]) if picked else None

    def models_and_modes(self) -> None:
        self._section(t("chart_per_day", self.lang), t("chart_per_day_note", self.lang))
        self._chart(st.bar_chart, analytics.per_day(self.cells, self.filter))
        for by, title in (("model_id", "chart_per_model"), ("mode", "chart_per_mode")):
            self._section(t(title, self.lang), t("chart_breakdown_note", self.lang))
            self._table(analytics.breakdown(self.cells, self.filter, by, self.krw_per_usd))

    def quality(self) -> None:
        cells, only = self.cells, self.filter
        bars, lines = st.bar_chart, st.line_chart
        for title, note, draw in (
            (
                "chart_stops",
                "chart_stops_note",
                lambda: self._table(analytics.stops_by_mode(cells, only)),
            ),
            (
                "chart_cuts",
                "chart_cuts_note",
                lambda: self._chart(bars, analytics.cuts_per_day(cells, only)[["cut"]]),
            ),
            (
                "chart_errors",
                "chart_errors_note",
                lambda: self._chart(bars, analytics.errors_by_kind(cells, only), horizontal=True),
            ),
            (
                "chart_feedback",
                "chart_feedback_note",
                lambda: self._chart(lines, analytics.feedback(cells, only)[["down_rate"]]),
            ),
            (
                "chart_down_reasons",
                "chart_down_reasons_note",
                lambda: self._chart(
                    bars,
                    analytics.down_reasons(cells, only).rename(index=self._reason),
                    horizontal=True,
                ),
            ),
            (
                "chart_ttft",
                "chart_ttft_note",
                lambda: self._chart(lines, self._named(analytics.ttft_per_model_day(cells, only))),
            ),
            (
                "chart_cache_hits",
                "chart_cache_hits_note",
                lambda: self._chart(lines, analytics.cache_hits_per_day(cells, only)),
            ),
            ("chart_tokens_per_chars", "chart_tokens_per_chars_note", self._tokens_per_chars),
        ):
            self._section(t(title, self.lang), t(note, self.lang))
            draw()

    def _chart(self, draw: Callable[..., Any], frame: pd.DataFrame, **kwargs: Any) -> None:
        """A chart of ``frame``; a line saying there is nothing to draw when it has no
        number (no error, no 👎, no timing in the range)."""
        if not frame.notna().to_numpy().any():
            st.caption(t("chart_nothing", self.lang))
        elif draw is st.bar_chart:
            # Days as text: a bar per day, not a sliver on a time axis.
            draw(frame.rename(index=str), **kwargs)
        else:
            draw(frame, **kwargs)

    def _tokens_per_chars(self) -> None:
        self._table(analytics.tokens_per_1000_chars(self.cells, self.filter))
        premium = analytics.korean_premium(self.cells, self.filter)
        if premium is not None:
            st.write(t("korean_premium", self.lang, premium=premium - 1))

    def _named(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Series named by model id (alone or before " p50") as a legend can show them; the
        dialogs of the original system have no model, and a series needs a name."""
        none = t("filter_none", self.lang)

        def name(column: str) -> str:
            model, _, stat = column.partition(" ")
            return " ".join(filter(None, (short_model(model) or none, stat)))

        return frame.rename(columns=name)

    def _reason(self, reason: str) -> str:
        if reason == analytics.UNSPECIFIED:
            return t("down_reason_unspecified", self.lang)
        return reason_label(reason, self.lang)

    def _columns(self) -> dict[str, Any]:
        """Labels and formats of every column the tabs' tables may have."""
        number = partial(st.column_config.NumberColumn, format="localized")
        whole = partial(number, step=1)  # won, and histogram estimates: no false decimals
        percent = partial(st.column_config.NumberColumn, format="percent")
        text = st.column_config.TextColumn
        config: dict[str, Any] = {
            "cost_usd": st.column_config.NumberColumn(t("col_cost", self.lang), format="dollar"),
            "krw": whole(t("col_krw", self.lang)),
            "last_active": st.column_config.DateColumn(t("col_last_active", self.lang)),
            "day": st.column_config.DateColumn(t("col_day", self.lang)),
        }
        for name, key, kind in (
            ("user_id", "col_user", text),
            ("mode", "col_mode", text),
            ("model_id", "col_model", text),
            ("dialogs", "col_dialogs", number),
            ("conversations", "col_conversations", number),
            ("tokens", "col_tokens", number),
            ("input_tokens", "col_input_tokens", number),
            ("output_tokens", "col_output_tokens", number),
            ("cut", "col_cut", number),
            ("ttft_p50_ms", "col_ttft_p50", whole),
            ("ttft_p90_ms", "col_ttft_p90", whole),
            ("median_stop_chars", "col_median_stop_chars", whole),
            ("median_complete_chars", "col_median_complete_chars", whole),
            ("down_rate", "col_down_rate", percent),
            ("error_rate", "col_error_rate", percent),
            ("stop_rate", "col_stop_rate", percent),
            ("cache_hit_rate", "col_cache_hit_rate", percent),
            ("stop_position", "col_stop_position", percent),
            ("ko", "col_ko", number),
            ("en", "col_en", number),
            ("ko_vs_en", "col_ko_vs_en", number),
        ):
            config[name] = kind(t(key, self.lang))
        return config
