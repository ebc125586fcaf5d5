"""Sign-in and roles: the pages through AppTest with ``AppTest.user``, the rules in chatbot."""

from __future__ import annotations

import os
import unicodedata
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from chatbot.access import AccessDenied, AnalystHistory, UserHistory
from chatbot.config import Settings
from chatbot.identity import Identity, normalize_user_id, signed_in_identity, subject_user_id
from chatbot.rollups import CellFilter
from chatbot.store.base import DialogQuery
from chatbot.store.outbox import Outbox
from chatbot.store.sqlite import SqliteStore
from loopback.bedrock import FakeBedrock
from tests.factories import make_dialog

APP = str(Path(__file__).parents[1] / "app.py")
AUTH = {
    "redirect_uri": "http://localhost:8501/oauth2callback",
    "cookie_secret": "not-a-real-secret",
    "client_id": "client",
    "client_secret": "client-secret-value",
    "server_metadata_url": "https://example.invalid/.well-known/openid-configuration",
}


GOOGLE = "https://accounts.google.com"
COGNITO = "https://cognito-idp.ap-northeast-2.amazonaws.com/ap-northeast-2_EXAMPLE"
# The ID-token claims st.user holds for a user whose provider verified their e-mail.
KIM = {
    "iss": GOOGLE,
    "sub": "108000000000000000001",
    "email": "kim@example.com",
    "email_verified": True,
    "name": "김민수",
}


def signed_in_app(claims: dict[str, Any] | None = KIM, auth: dict = AUTH) -> AppTest:
    """The app with sign-in configured; ``claims`` None is a signed-out visitor."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = auth
    at.user = {"is_logged_in": False} if claims is None else {"is_logged_in": True, **claims}
    return at.run()


def test_signed_out_users_see_only_the_sign_in_button() -> None:
    at = signed_in_app(claims=None)
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert len(at.chat_input) == 0 and len(at.warning) == 0  # no local-mode banner


def test_each_configured_provider_gets_a_button() -> None:
    providers = {"cookie_secret": "x", "google": {"client_id": "g"}, "cognito": {"client_id": "c"}}
    at = signed_in_app(claims=None, auth=providers)
    assert sorted(b.label for b in at.button) == ["Sign in with Cognito", "Sign in with Google"]


def test_the_signed_in_identity_is_the_user_id_never_a_typed_one(bedrock: FakeBedrock) -> None:
    at = signed_in_app()
    assert not at.exception
    assert len(at.sidebar.text_input) == 0  # nothing to type (search comes with a conversation)
    assert "Signed in as 김민수" in at.sidebar.caption[0].value
    assert any(b.label == "Sign out" for b in at.sidebar.button)
    at.chat_input[0].set_value("안녕하세요").run()
    store = SqliteStore(_db())
    [row] = store.user_dialogs("kim@example.com", datetime.now(UTC) - timedelta(hours=1))
    assert row.body == "안녕하세요"


def _db() -> str:
    return os.environ["CHAT_HISTORY_DB"]


def test_a_signed_in_user_sees_only_their_own_dialogs(bedrock: FakeBedrock) -> None:
    store = SqliteStore(_db())
    now = datetime.now(UTC)
    store.put(make_dialog("lee@example.com", now, body="이씨의 비밀 질문", msg="비밀 답변"))
    store.put(make_dialog("kim@example.com", now, body="김씨의 질문", msg="김씨의 답변"))
    at = signed_in_app()
    at.query_params["user"] = "lee@example.com"  # a local-mode id in the URL changes nothing
    at.run()
    shown = [m.value for m in at.markdown]
    assert "김씨의 질문" in shown and "김씨의 답변" in shown
    assert all("비밀" not in text for text in shown)


def test_non_analysts_have_no_history_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYSTS", "boss@example.com")
    at = signed_in_app()
    # Not in the navigation, so it has no URL either.
    with pytest.raises(ValueError, match=r"Known pages: \['[^']*pages/chat.py'\]"):
        at.switch_page("pages/history.py")


def test_analysts_open_the_history_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANALYSTS", "Kim@Example.com, boss@example.com")
    at = signed_in_app().switch_page("pages/history.py").run()
    assert not at.exception
    assert at.title[0].value == "Users' dialogs"


def test_local_mode_can_be_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_LOCAL_MODE", "false")
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["user"] = "alice"
    at.run()
    assert "requires sign-in" in at.error[0].value
    assert len(at.chat_input) == 0


def _send(at: AppTest, text: str) -> AppTest:
    return at.chat_input[0].set_value(text).run()


def _shown(at: AppTest) -> list[str]:
    return [m.value for m in at.markdown]


def _stored(user_id: str) -> list[str]:
    since = datetime.now(UTC) - timedelta(hours=1)
    return [d.body for d in SqliteStore(_db()).user_dialogs(user_id, since)]


@pytest.mark.parametrize(
    "verified",
    [{"email_verified": False}, {"email_verified": "false"}, {}],
    ids=["false", "string-false", "no-claim"],
)
def test_an_unverified_email_is_neither_its_owner_nor_an_analyst(
    bedrock: FakeBedrock, monkeypatch: pytest.MonkeyPatch, verified: dict[str, Any]
) -> None:
    # A self-registered account that set an analyst's address as its own e-mail.
    monkeypatch.setenv("ANALYSTS", "kim@example.com")
    SqliteStore(_db()).put(make_dialog("kim@example.com", datetime.now(UTC), body="김씨의 비밀"))
    claims = {"iss": COGNITO, "sub": "intruder", "email": "kim@example.com", **verified}
    at = signed_in_app(claims)
    assert not at.exception
    assert all("비밀" not in text for text in _shown(at))
    with pytest.raises(ValueError, match="Known pages"):
        at.switch_page("pages/history.py")
    _send(at, "누구세요?")
    assert _stored(subject_user_id(COGNITO, "intruder")) == ["누구세요?"]
    assert _stored("kim@example.com") == ["김씨의 비밀"]


def test_a_verified_email_is_one_user_across_providers_an_unverified_one_is_not(
    bedrock: FakeBedrock,
) -> None:
    _send(signed_in_app(KIM), "구글에서 보낸 질문")
    # Cognito sends email_verified as the string "true"; the same address is the same user.
    cognito = {"iss": COGNITO, "sub": "c-9", "email": "kim@example.com", "email_verified": "true"}
    assert "구글에서 보낸 질문" in _shown(signed_in_app(cognito))
    unverified = {**cognito, "sub": "c-10", "email_verified": False}
    assert "구글에서 보낸 질문" not in _shown(signed_in_app(unverified))


def test_a_user_without_an_email_is_keyed_by_issuer_and_subject(bedrock: FakeBedrock) -> None:
    at = signed_in_app({"iss": GOOGLE, "sub": "shared-sub"})
    assert not at.exception
    _send(at, "이메일 없는 질문")
    assert _stored(subject_user_id(GOOGLE, "shared-sub")) == ["이메일 없는 질문"]
    # Subjects are unique per issuer only: another provider's equal sub is someone else.
    other = signed_in_app({"iss": COGNITO, "sub": "shared-sub"})
    assert not other.exception
    assert "이메일 없는 질문" not in _shown(other)


def test_an_nfd_and_an_nfc_user_id_reach_the_same_dialogs(bedrock: FakeBedrock) -> None:
    nfc = "김민수"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    at = AppTest.from_file(APP, default_timeout=30)
    at.query_params["user"] = nfd
    _send(at.run(), "자모로 입력한 질문")
    assert _stored(nfc) == ["자모로 입력한 질문"]
    again = AppTest.from_file(APP, default_timeout=30)
    again.query_params["user"] = f" {nfc} "
    assert "자모로 입력한 질문" in _shown(again.run())


def _local_app(allow_local_mode: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    if allow_local_mode is not None:
        at.secrets["ALLOW_LOCAL_MODE"] = allow_local_mode
    at.query_params["user"] = "alice"
    return at.run()


def test_community_cloud_refuses_local_mode_unless_explicitly_allowed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("chatbot.ui.resources.on_community_cloud", lambda: True)
    unset = _local_app(None)
    assert "set ALLOW_LOCAL_MODE = true" in unset.error[0].value
    assert "[auth]" in unset.error[0].value
    assert len(unset.chat_input) == 0 and len(unset.sidebar.text_input) == 0
    refused = _local_app("false")
    assert "Add an [auth] section" in refused.error[0].value
    assert len(refused.chat_input) == 0
    allowed = _local_app("true")
    assert not allowed.exception and len(allowed.error) == 0
    assert len(allowed.chat_input) == 1
    # Off Community Cloud an unset ALLOW_LOCAL_MODE keeps local mode for one's own machine.
    monkeypatch.setattr("chatbot.ui.resources.on_community_cloud", lambda: False)
    local = _local_app(None)
    assert len(local.error) == 0 and len(local.chat_input) == 1


# The rules themselves live in chatbot, whatever the pages show.


def test_user_history_reads_and_writes_only_its_identity(store: SqliteStore, tmp_path) -> None:
    outbox = Outbox(tmp_path / "outbox.sqlite3", store)
    alice = UserHistory(store, Identity("alice", analyst=False), outbox)
    store.put(make_dialog(at=datetime.now(UTC), user="bob"))
    alice.save(make_dialog(at=datetime.now(UTC), user="alice"))
    with pytest.raises(AccessDenied):
        alice.save(make_dialog(at=datetime.now(UTC), user="bob"))
    since = datetime.now(UTC) - timedelta(hours=1)
    assert [d.user_id for d in alice.recent(since)] == ["alice"]
    assert alice.delete_all() == 1
    assert len(store.user_dialogs("bob", since)) == 1
    outbox.close()


def test_only_analysts_can_browse_everyone(store: SqliteStore) -> None:
    with pytest.raises(AccessDenied):
        AnalystHistory(store, Identity("alice", analyst=False))
    store.put(make_dialog(at=datetime.now(UTC), user="bob"))
    analyst = AnalystHistory(store, Identity("boss", analyst=True))
    now = datetime.now(UTC)
    query = DialogQuery(now - timedelta(hours=1), now + timedelta(hours=1), CellFilter())
    assert [d.user_id for d in analyst.page(query, limit=10).dialogs] == ["bob"]


@pytest.mark.parametrize(
    ("claims", "user_id", "analyst"),
    [
        ({"email": "Kim@Example.com", "email_verified": True}, "Kim@Example.com", True),
        ({"email": "kim@example.com", "email_verified": "true"}, "kim@example.com", True),
        ({"email": "kim@example.com", "email_verified": "false"}, "https://idp#s", False),
        ({"email": "kim@example.com", "email_verified": 1}, "https://idp#s", False),
        ({"email": "kim@example.com"}, "https://idp#s", False),
        ({"email": None, "email_verified": True}, "https://idp#s", False),
    ],
    ids=["verified", "string-true", "string-false", "one", "no-claim", "no-email"],
)
def test_only_a_verified_email_keys_a_user_or_makes_an_analyst(
    claims: dict[str, Any], user_id: str, analyst: bool
) -> None:
    settings = Settings(analysts=("kim@example.com",))
    identity = signed_in_identity(settings, {"iss": "https://idp", "sub": "s", **claims})
    assert identity == Identity(user_id=user_id, analyst=analyst)
    assert subject_user_id("https://idp", "s") == "https://idp#s"


def test_claims_naming_nobody_give_no_identity() -> None:
    unverified = {"email": "kim@example.com", "email_verified": False}
    assert signed_in_identity(Settings(), {**unverified, "sub": "s"}) is None  # no issuer
    assert signed_in_identity(Settings(), {**unverified, "iss": "https://idp"}) is None


def test_user_ids_have_one_form_for_the_store_and_for_analysts() -> None:
    nfc = "김민수@예시.kr"
    assert normalize_user_id(unicodedata.normalize("NFD", nfc)) == nfc
    assert normalize_user_id(f"  {nfc}\n") == nfc
    assert normalize_user_id("Kim@Example.com") == "Kim@Example.com"  # stored keys keep case
    settings = Settings(analysts=(unicodedata.normalize("NFD", nfc), " Boss@Example.com "))
    assert settings.is_analyst(nfc) and settings.is_analyst("boss@example.com")


def test_allow_local_mode_distinguishes_unset_from_false() -> None:
    unset = Settings.load(env={}, secrets={})
    assert unset.allow_local_mode is None
    assert unset.local_mode_allowed(on_community_cloud=False)
    assert not unset.local_mode_allowed(on_community_cloud=True)
    assert Settings.load(env={"ALLOW_LOCAL_MODE": ""}).allow_local_mode is None
    off = Settings.load(env={"ALLOW_LOCAL_MODE": "false"})
    assert off.allow_local_mode is False and not off.local_mode_allowed(on_community_cloud=False)
    on = Settings.load(env={}, secrets={"ALLOW_LOCAL_MODE": True})  # a TOML boolean
    assert on.allow_local_mode is True and on.local_mode_allowed(on_community_cloud=True)
