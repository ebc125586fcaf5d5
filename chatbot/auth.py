"""Who is chatting. Until sign-in is configured, a local mode: the user types an id.

This module is Streamlit glue: it reads the sidebar and the session.
"""

from __future__ import annotations

import re

import streamlit as st

from chatbot.i18n import t

# \w is Unicode-aware, so Korean names are valid ids.
_USER_ID = re.compile(r"[\w.@-]{1,64}")


def valid_user_id(user_id: str) -> bool:
    return _USER_ID.fullmatch(user_id) is not None


def local_user(lang: str) -> str | None:
    """The id typed in the sidebar, or None (with a hint) until there is a valid one."""
    st.warning(t("local_banner", lang), icon="⚠️")
    # Kept in the URL so that a reload keeps the user and replays their dialogs.
    user_id = st.sidebar.text_input(
        t("user_id", lang),
        value=st.query_params.get("user", ""),
        help=t("user_id_help", lang),
    ).strip()
    if not user_id:
        st.query_params.pop("user", None)
        st.info(t("user_id_prompt", lang))
        return None
    if not valid_user_id(user_id):
        st.error(t("user_id_invalid", lang))
        return None
    st.query_params["user"] = user_id
    return user_id
