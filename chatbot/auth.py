"""Who is using the app. Streamlit glue: reads ``st.user`` and the sidebar.

With an ``[auth]`` section in secrets, Streamlit's own ``st.login`` (OIDC) is the gate and
the user id is the signed-in identity: a verified e-mail, else the issuer and subject. Without
it, local mode: the user types an id, and a banner says plainly that nothing proves it.
``ALLOW_LOCAL_MODE=false`` refuses local mode; unset, it is refused on Community Cloud only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import streamlit as st

from chatbot.access import Identity, normalize_user_id
from chatbot.config import Settings
from chatbot.i18n import t

# \w is Unicode-aware, so Korean names are valid ids.
_USER_ID = re.compile(r"[\w.@-]{1,64}")
_STATE_KEY = "identity"


def valid_user_id(user_id: str) -> bool:
    return _USER_ID.fullmatch(user_id) is not None


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


def email_verified(claims: Mapping[str, Any]) -> bool:
    """OIDC's ``email_verified``; some providers send the string "true". Absent is false."""
    verified = claims.get("email_verified")
    return verified is True or (isinstance(verified, str) and verified.lower() == "true")


def subject_user_id(issuer: str, subject: str) -> str:
    """The user id of a subject: ``sub`` is unique only within its issuer."""
    return normalize_user_id(f"{issuer}#{subject}")


def signed_in_identity(settings: Settings, claims: Mapping[str, Any]) -> Identity | None:
    """The identity of a signed-in user's ID-token claims; None when they name nobody.

    Only a verified e-mail keys a user: anyone able to set their own address (self sign-up,
    an editable e-mail attribute) would otherwise become its owner. So two providers
    asserting one verified e-mail are one user, and only a verified e-mail can be in ANALYSTS.
    """
    email = normalize_user_id(str(claims.get("email") or ""))
    if email and email_verified(claims):
        return Identity(user_id=email, analyst=settings.is_analyst(email))
    issuer, subject = str(claims.get("iss") or ""), str(claims.get("sub") or "")
    if not (issuer.strip() and subject.strip()):
        return None
    return Identity(user_id=subject_user_id(issuer, subject), analyst=False)


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
    if not valid_user_id(user_id):
        st.error(t("user_id_invalid", lang))
        return None
    st.query_params["user"] = user_id
    # One person on their own machine: they are their own analyst.
    return Identity(user_id=user_id, analyst=True)
