"""Connect OAuth on /connect: the session-bound state, the callback, and every refusal."""

from __future__ import annotations

import html

import re
from urllib.parse import parse_qs, urlencode, urlsplit

from portal.models import SendingSettings
from portal.web import connect
from connect_kit import (
    _account,
    _authorize,
    _callback,
    _connect,
    _owner,
    _platform,
    _start,
    _stored,
    _text,
)


def test_the_authorize_request_carries_a_session_bound_state(app, db, login, sandbox_server):
    client, _ = _owner(app, login)
    url = urlsplit(_start(client))
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}" == sandbox_server.base and url.path == "/oauth/authorize"
    assert query["response_type"] == ["code"] and query["scope"] == ["read_write"]
    assert query["client_id"] == [sandbox_server.config["CLIENT_ID"]]
    assert query["redirect_uri"] == [f"{app.config['PUBLIC_URL']}/connect/callback"]
    with client.session_transaction() as session:
        assert session[connect.STATE_KEY]["state"] == query["state"][0]
    assert len(query["state"][0]) >= 40


def test_deny_stores_nothing_and_says_so_with_stripes_words_escaped(
    app, db, login, sandbox_server
):
    client, _ = _owner(app, login)
    page = _connect(client, sandbox_server, decision="deny")
    assert "You cancelled connecting Stripe. Nothing was saved." in page
    assert "The user denied your request" not in page
    state = parse_qs(urlsplit(_start(client)).query)["state"][0]
    crafted = {"error": "server_error", "error_description": "<b>bold</b>", "state": state}
    page = _callback(client, "/connect/callback?" + urlencode(crafted))
    # A description rides in a link: it is never shown as Stripe's words, escaped or not.
    assert "Stripe could not connect your account: it had a problem on its side." in page
    assert "bold" not in page
    for code, says in [
        ("invalid_scope", "account: it would not grant the access the portal asks for."),
        ("no_such_code", "account (Stripe's error code: no_such_code). Nothing was saved."),
        ("<i>x</i>", "Stripe could not connect your account. Nothing was saved."),
    ]:
        state = parse_qs(urlsplit(_start(client)).query)["state"][0]
        query = urlencode({"error": code, "error_description": "Call +1 555 0100", "state": state})
        page = html.unescape(_callback(client, "/connect/callback?" + query))
        assert says in page and "555" not in page and "<i>" not in page
    # Without this session's state, a link's words are not shown as Stripe's.
    crafted["state"] = "whatever"
    page = _callback(client, "/connect/callback?" + urlencode(crafted))
    assert "does not match a connection started here" in _text(page) and "bold" not in page
    assert _stored(db) == []


def test_a_wrong_state_is_refused_and_the_code_is_not_used(app, db, login, sandbox_server):
    client, _ = _owner(app, login)
    path = _authorize(sandbox_server, _start(client), account="new")
    tampered = re.sub(r"state=[^&]+", "state=forged", path)
    page = _callback(client, tampered)
    assert "does not match a connection started here" in _text(page)
    assert _stored(db) == []
    code = parse_qs(urlsplit(path).query)["code"][0]  # never redeemed: Stripe still takes it
    token = _platform(sandbox_server).oauth.token(
        {"grant_type": "authorization_code", "code": code}
    )
    assert token.stripe_user_id.startswith("acct_")


def test_a_callback_works_once(app, db, login, sandbox_server):
    client, _ = _owner(app, login)
    path = _authorize(sandbox_server, _start(client), account="new", business_name="Once")
    assert "Stripe is connected: Once." in _callback(client, path)
    (first,) = _stored(db)
    connected_at = first.connected_at
    replayed = _callback(client, path)
    assert "does not match a connection started here" in _text(replayed)
    (account,) = _stored(db)
    assert account.connected_at == connected_at and account.is_connected


def test_an_expired_state_is_refused(app, db, login, sandbox_server, monkeypatch):
    client, _ = _owner(app, login)
    monkeypatch.setattr(connect, "STATE_SECONDS", -1)
    page = _connect(client, sandbox_server, account="new")
    assert "took longer than 15 minutes" in page and _stored(db) == []


def test_a_state_from_another_users_session_is_refused(app, db, login, sandbox_server):
    alice, _ = _owner(app, login, "Alice Shop")
    mallory, _ = _owner(app, login, "Mallory Shop")
    _start(mallory)  # Mallory's own session holds a state of its own, not Alice's
    path = _authorize(sandbox_server, _start(alice), account="new", business_name="Alice's")
    page = _callback(mallory, path)
    assert "does not match a connection started here" in _text(page)
    assert _stored(db) == []


def test_a_used_code_is_a_clear_message_and_nothing_is_stored(app, db, login, sandbox_server):
    client, _ = _owner(app, login)
    path = _authorize(sandbox_server, _start(client), account="new")
    code = parse_qs(urlsplit(path).query)["code"][0]
    _platform(sandbox_server).oauth.token({"grant_type": "authorization_code", "code": code})
    page = _text(_callback(client, path))
    assert "Stripe did not connect your account: This authorization code has already" in page
    assert "Nothing was saved." in page and _stored(db) == []


def test_an_account_another_merchant_holds_is_refused(app, db, login, sandbox_server):
    first, holder = _owner(app, login, "First Shop")
    second, other = _owner(app, login, "Second Shop")
    account_id = _account(sandbox_server, "Shared Shop")
    _connect(first, sandbox_server, account=account_id)
    page = _connect(second, sandbox_server, account=account_id)
    assert "already linked to another merchant" in page and "Nothing was saved." in page
    (account,) = _stored(db)
    assert account.merchant_id == holder.merchant_id
    assert db.get(SendingSettings, other.merchant_id) is None
