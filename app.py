"""Entry point: page config, the sign-in gate, and navigation over the pages a user may see."""

import streamlit as st

from chatbot.config import ConfigError
from chatbot.i18n import t
from chatbot.ui import auth, resources

lang = resources.language()
st.set_page_config(page_title=t("app_title", lang), page_icon="💬", layout="centered")
try:
    settings = resources.settings()
except ConfigError as error:
    st.error(t("config_error", lang, detail=error))
    st.stop()

identity = auth.identify(settings, resources.secrets(), lang, resources.on_community_cloud())
if identity is None:
    st.stop()

pages = [st.Page("pages/chat.py", title=t("chat_page", lang), icon="💬", default=True)]
if identity.analyst:  # not listed means not reachable by URL either
    pages.append(st.Page("pages/history.py", title=t("history_page", lang), icon="🗂️"))
st.navigation(pages).run()
