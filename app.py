"""Entry point: page config and navigation over the pages."""

import streamlit as st

from chatbot import resources
from chatbot.i18n import t

lang = resources.language()
st.set_page_config(page_title=t("app_title", lang), page_icon="💬", layout="centered")
page = st.navigation(
    [
        st.Page("pages/chat.py", title=t("chat_page", lang), icon="💬", default=True),
        st.Page("pages/history.py", title=t("history_page", lang), icon="🗂️"),
    ]
)
page.run()
