"""Who is using the app. Streamlit glue: reads ``st.user`` and the sidebar.

With an ``[auth]`` section in secrets, Streamlit's own ``st.login`` (OIDC) is the gate and
the user id is the signed-in identity: a verified e-mail, else the issuer and subject. Without
it, local mode: the user types an id, and a banner says plainly that nothing proves it.
``ALLOW_LOCAL_MODE=false`` refuses local mode; unset, it is refused on Community Cloud only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from chatbot.config import Settings
from chatbot.i18n import t
from chatbot.identity import (
    Identity,
    normalize_user_id,
    signed_in_identity,
    valid_local_user_id,
)

_STATE_KEY = "identity"


def sign_in_configured(secrets: Mapping[str, Any]) -> bool:
    return "auth" in secrets


def identify(
    settings: Settings, secrets: Mapping[str, Any], lang: str, on_community_cloud: bool
) -> Identity | None:
    """The current identity, or None after showing what the user must do first.

    Called by ``app.py`` on every run, before any page; pages read it with ``current``.
    """
    if sign_in_configured(secrets):
        identity = _signed_in(settings, secrets["auth"], lang)
    elif settings.local_mode_allowed(on_community_cloud):
        identity = _local(lang)
    else:
        # Refused while unset only happens on Community Cloud: say how to switch it on there.
        forbidden = settings.allow_local_mode is False
        st.error(t("local_mode_forbidden" if forbidden else "local_mode_cloud", lang))
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
    named: list[str | None] = [name for name, value in auth.items() if isinstance(value, Mapping)]
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
    identity = signed_in_identity(settings, st.user)
    if identity is None:
        st.error(t("sign_in_no_identity", lang))
        st.button(t("sign_out", lang), on_click=st.logout)
        return None
    name = st.user.get("name")
    with st.sidebar:
        st.caption(t("signed_in_as", lang, user=name or identity.user_id))
        st.button(t("sign_out", lang), on_click=st.logout, icon="🚪")
    return identity


def _local(lang: str) -> Identity | None:
    st.warning(t("local_banner", lang), icon="⚠️")
    # Kept in the URL so that a reload keeps the user and replays their dialogs.
    user_id = normalize_user_id(
        st.sidebar.text_input(
            t("user_id", lang),
            value=st.query_params.get("user", ""),
            help=t("user_id_help", lang),
        )
    )
    if not user_id:
        st.query_params.pop("user", None)
        st.info(t("user_id_prompt", lang))
        return None
    if not valid_local_user_id(user_id):
        st.error(t("user_id_invalid", lang))
        return None
    st.query_params["user"] = user_id
    # One person on their own machine: they are their own analyst.
    return Identity(user_id=user_id, analyst=True)
