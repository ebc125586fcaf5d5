"""Who is using the app. Streamlit glue: reads ``st.user`` and the sidebar.

With an ``[auth]`` section in secrets, Streamlit's own ``st.login`` (OIDC) is the gate and
the user id is the signed-in identity. Without it, local mode: the user types an id, and a
banner says plainly that nothing proves it. ``ALLOW_LOCAL_MODE=false`` refuses local mode.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import streamlit as st

from chatbot.access import Identity
from chatbot.config import Settings
from chatbot.i18n import t

# \w is Unicode-aware, so Korean names are valid ids.
_USER_ID = re.compile(r"[\w.@-]{1,64}")
_STATE_KEY = "identity"


def valid_user_id(user_id: str) -> bool:
    return _USER_ID.fullmatch(user_id) is not None


def sign_in_configured(secrets: Mapping[str, Any]) -> bool:
    return "auth" in secrets


def identify(settings: Settings, secrets: Mapping[str, Any], lang: str) -> Identity | None:
    """The current identity, or None after showing what the user must do first.

    Called by ``app.py`` on every run, before any page; pages read it with ``current``.
    """
    if sign_in_configured(secrets):
        identity = _signed_in(settings, secrets["auth"], lang)
    elif settings.allow_local_mode:
        identity = _local(lang)
    else:
        st.error(t("local_mode_forbidden", lang))
        identity = None
    st.session_state[_STATE_KEY] = identity
    return identity


def current() -> Identity:
    """The identity ``app.py`` established for this run."""
    identity = st.session_state.get(_STATE_KEY)
    if identity is None:  # a page run without app.py: nothing to show
        st.stop()
    return identity


def _providers(auth: Mapping[str, Any]) -> list[str | None]:
    """Named providers (``[auth.google]``, ...), or the one default provider."""
    named = [name for name, value in auth.items() if isinstance(value, Mapping)]
    return named or [None]


def _signed_in(settings: Settings, auth: Mapping[str, Any], lang: str) -> Identity | None:
    if not st.user.is_logged_in:
        st.title(t("app_title", lang))
        st.write(t("sign_in_prompt", lang))
        for provider in _providers(auth):
            label = t("sign_in_with", lang, provider=provider.title()) if provider else None
            st.button(
                label or t("sign_in", lang),
                key=f"sign-in-{provider}",
                on_click=st.login,
                args=(provider,) if provider else (),
                type="primary",
            )
        return None
    # The e-mail is what ANALYSTS lists; the subject is stable when a provider gives none.
    user_id = str(st.user.get("email") or st.user.get("sub") or "")
    if not user_id:
        st.error(t("sign_in_no_identity", lang))
        st.button(t("sign_out", lang), on_click=st.logout)
        return None
    name = st.user.get("name")
    with st.sidebar:
        st.caption(t("signed_in_as", lang, user=name or user_id))
        st.button(t("sign_out", lang), on_click=st.logout, icon="🚪")
    return Identity(user_id=user_id, analyst=settings.is_analyst(user_id))


def _local(lang: str) -> Identity | None:
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
    # One person on their own machine: they are their own analyst.
    return Identity(user_id=user_id, analyst=True)
