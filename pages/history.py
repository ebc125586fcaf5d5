"""The analysts' page: totals and charts from the rollups, the dialogs a page at a time."""

from __future__ import annotations

import streamlit as st

from chatbot import analytics
from chatbot.access import AnalystHistory
from chatbot.i18n import t, time_zone
from chatbot.store import StoreError
from chatbot.ui import auth, history_tabs, resources
from chatbot.ui.history_view import TAB_KEY, HistoryView

st.set_page_config(layout="wide")  # a table of many columns; the chat stays centred
lang = resources.language()
settings = resources.settings()
try:
    history = AnalystHistory(
        resources.dialog_store(settings),
        auth.current(),
        report_timezone=settings.report_timezone,
    )
except StoreError as error:
    st.error(t("config_error", lang, detail=error))
    st.stop()
view = HistoryView(history, settings, lang, time_zone(st.context.timezone))
view.take_open_user()

st.title(t("history_title", lang))
first, last, user_id = view.period()
summary = view.summary(first, last, user_id)
controls = view.filters(first, last, user_id, summary)
totals = analytics.totals(summary.cells, controls.filter)
if not totals.dialogs:
    st.info(t("history_empty", lang), icon="🗂️")
    st.stop()
view.metrics(totals)

charts = history_tabs.Charts(summary, controls.filter, settings.chat_krw_per_usd, lang)
# Tracked tabs: only the open one is drawn, so a chart costs nothing until asked for.
table_tab, cost_tab, users_tab, models_tab, quality_tab = st.tabs(
    [
        t("tab_table", lang),
        t("tab_cost", lang),
        t("tab_users", lang),
        t("tab_models", lang),
        t("tab_quality", lang),
    ],
    key=TAB_KEY,
    on_change="rerun",
)
with table_tab:
    if table_tab.open:
        view.table(controls, totals.dialogs)
with cost_tab:
    if cost_tab.open:
        charts.cost(totals)
with users_tab:
    if users_tab.open and (opened := charts.users()) is not None:
        view.open_user(opened)
with models_tab:
    if models_tab.open:
        charts.models_and_modes()
with quality_tab:
    if quality_tab.open:
        charts.quality()
