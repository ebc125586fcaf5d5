"""Who a user is: the one form of a user id, and the identity that sign-in claims prove.

Plain rules, no Streamlit: ``chatbot.ui.auth`` reads ``st.user`` and the sidebar and asks
these functions who that is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chatbot.config import Settings

# \w is Unicode-aware, so Korean names are valid ids.
_LOCAL_USER_ID = re.compile(r"[\w.@-]{1,64}")


@dataclass(frozen=True)
class Identity:
    user_id: str
    analyst: bool


def normalize_user_id(raw: str) -> str:
    """The one form of a user id that keys the store and is matched against ANALYSTS.

    Unicode NFC, because the same Hangul typed on another system often arrives decomposed
    (NFD) and would otherwise be a second user with its own history. Case is kept: stored
    dialogs are keyed by the id as given.
    """
    return unicodedata.normalize("NFC", raw).strip()


def valid_local_user_id(user_id: str) -> bool:
    """Whether a typed (local-mode) id is 1-64 letters, digits, Hangul, ``. _ @ -``."""
    return _LOCAL_USER_ID.fullmatch(user_id) is not None


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
