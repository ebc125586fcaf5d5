"""Sign-in and roles: the pages through AppTest with ``AppTest.user``, the rules in chatbot."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from chatbot.access import AccessDenied, AnalystHistory, Identity, UserHistory
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


def signed_in_app(email: str | None = "kim@example.com", auth: dict = AUTH) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=30)
    at.secrets["auth"] = auth
    at.user = {"is_logged_in": email is not None, "email": email, "name": "김민수"}
    if email is None:
        at.user = {"is_logged_in": False}
    return at.run()


def test_signed_out_users_see_only_the_sign_in_button() -> None:
    at = signed_in_app(email=None)
    assert not at.exception
    assert [b.label for b in at.button] == ["Sign in"]
    assert len(at.chat_input) == 0 and len(at.warning) == 0  # no local-mode banner


def test_each_configured_provider_gets_a_button() -> None:
    providers = {"cookie_secret": "x", "google": {"client_id": "g"}, "cognito": {"client_id": "c"}}
    at = signed_in_app(email=None, auth=providers)
    assert sorted(b.label for b in at.button) == ["Sign in with Cognito", "Sign in with Google"]


def test_the_signed_in_identity_is_the_user_id_never_a_typed_one(bedrock: FakeBedrock) -> None:
    at = signed_in_app()
    assert not at.exception
    assert len(at.sidebar.text_input) == 0  # nothing to type
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


# The rules themselves live in chatbot, whatever the pages show.


def test_user_history_reads_and_writes_only_its_identity(store: SqliteStore) -> None:
    alice = UserHistory(store, Identity("alice", analyst=False))
    store.put(make_dialog(at=datetime.now(UTC), user="bob"))
    alice.put(make_dialog(at=datetime.now(UTC), user="alice"))
    with pytest.raises(AccessDenied):
        alice.put(make_dialog(at=datetime.now(UTC), user="bob"))
    since = datetime.now(UTC) - timedelta(hours=1)
    assert [d.user_id for d in alice.recent(since)] == ["alice"]
    assert alice.delete_all() == 1
    assert len(store.user_dialogs("bob", since)) == 1


def test_only_analysts_can_browse_everyone(store: SqliteStore) -> None:
    with pytest.raises(AccessDenied):
        AnalystHistory(store, Identity("alice", analyst=False))
    store.put(make_dialog(at=datetime.now(UTC), user="bob"))
    analyst = AnalystHistory(store, Identity("boss", analyst=True))
    now = datetime.now(UTC)
    dialogs, _ = analyst.browse(now - timedelta(hours=1), now + timedelta(hours=1))
    assert [d.user_id for d in dialogs] == ["bob"]
