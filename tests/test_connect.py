"""Connecting Stripe on /connect: Connect OAuth against the sandbox's authorize page and token
endpoint, disconnecting, direct mode with a merchant's own key, and who may do what."""

from __future__ import annotations

import html
import re
import socket
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
import requests
import stripe
from sqlalchemy import select

from factories import PASSWORD, make_member, make_owner
from helpers import post_form
from portal.models import Merchant, SendingSettings, StripeAccount, StripeEvent
from portal.services import events, settings
from portal.web import connect


def _platform(sandbox) -> stripe.StripeClient:
    return stripe.StripeClient(
        sandbox.config["PLATFORM_SECRET_KEY"],
        client_id=sandbox.config["CLIENT_ID"],
        base_addresses={"api": sandbox.base, "connect": sandbox.base},
    )


def _account(sandbox, name: str = "Tea Shop", **params) -> str:
    body = {"type": "standard", "business_profile": {"name": name}, **params}
    return _platform(sandbox).v1.accounts.create(body).id


def _owner(app, login, name: str = "Acme Tea"):
    client = app.test_client()
    user = make_owner(name)
    login(client, user.email, PASSWORD)
    return client, user


def _start(client) -> str:
    """Press "Connect with Stripe": the authorize URL the portal sends the browser to."""
    response = post_form(client, "/connect/oauth", {}, page="/connect")
    assert response.status_code == 302
    return response.headers["Location"]


def _authorize(sandbox, url: str, **form) -> str:
    """Answer the sandbox's authorize page; the portal path Stripe redirects back to."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    response = requests.post(
        f"{sandbox.base}/oauth/authorize", data={**query, **form}, allow_redirects=False, timeout=5
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    return f"{location.path}?{location.query}"


def _callback(client, path: str) -> str:
    """Follow Stripe's redirect back; the /connect page it ends on."""
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == "/connect"
    return client.get("/connect").get_data(as_text=True)


def _connect(client, sandbox, **form) -> str:
    return _callback(client, _authorize(sandbox, _start(client), **form))


def _stored(db) -> list[StripeAccount]:
    db.rollback()
    return db.scalars(select(StripeAccount)).all()


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


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


def test_connecting_an_existing_account_stores_it_and_fills_the_emails_defaults(
    app, db, login, sandbox_server
):
    client, owner = _owner(app, login)
    account_id = _account(
        sandbox_server,
        "Leaf & Co",
        business_profile={
            "name": "Leaf & Co",
            "url": "https://leaf.example",
            "support_email": "help@leaf.example",
            "support_address": {"line1": "1 Leaf Lane", "city": "Portland", "country": "US"},
        },
        settings={"branding": {"primary_color": "#AA3300"}},
    )
    page = _connect(client, sandbox_server, account=account_id)
    assert "Stripe is connected: Leaf &amp; Co." in page
    assert account_id in page and "Leaf &amp; Co" in page and ">Live<" in page
    assert "Next step: Accept the cart-recovery terms" in _text(page)  # where setup goes on
    (account,) = _stored(db)
    assert (account.merchant_id, account.account_id, account.method) == (
        owner.merchant_id,
        account_id,
        "oauth",
    )
    assert account.livemode is True and account.is_connected
    assert (account.shop_url, account.support_email) == (
        "https://leaf.example",
        "help@leaf.example",
    )
    sending = db.get(SendingSettings, owner.merchant_id)
    assert (sending.sender_name, sending.brand_color) == ("Leaf & Co", "#aa3300")
    assert sending.postal_address == "1 Leaf Lane\nPortland\nUS"


def test_defaults_never_overwrite_what_the_merchant_set(app, db, login, sandbox_server):
    client, owner = _owner(app, login)
    sending = settings.settings_for(owner.merchant_id)
    sending.sender_name, sending.postal_address = "Mine", "My address"
    db.commit()
    _connect(client, sandbox_server, account="new", business_name="Theirs")
    db.expire_all()
    sending = db.get(SendingSettings, owner.merchant_id)
    assert (sending.sender_name, sending.postal_address) == ("Mine", "My address")


def test_a_stripe_name_on_several_lines_becomes_a_one_line_sender_name(
    app, db, login, sandbox_server
):
    client, owner = _owner(app, login)
    _connect(client, sandbox_server, account="new", business_name="Gamma\r\nBcc: x@evil.example")
    db.expire_all()
    sending = db.get(SendingSettings, owner.merchant_id)
    assert sending.sender_name == "Gamma Bcc: x@evil.example"
    (account,) = _stored(db)
    assert account.display_name == "Gamma Bcc: x@evil.example"


@pytest.mark.parametrize(
    ("country", "chosen", "expected"),
    [
        ("GB", None, "en_GB"),
        ("US", None, "en_US"),
        ("CN", None, "en_US"),
        ("GB", "fr_FR", "fr_FR"),
    ],
)
def test_the_accounts_country_sets_how_amounts_and_dates_are_written_unless_chosen(
    app, db, login, sandbox_server, country, chosen, expected
):
    client, owner = _owner(app, login)
    if chosen:
        settings.settings_for(owner.merchant_id).locale = chosen
        db.commit()
    _connect(client, sandbox_server, account=_account(sandbox_server, country=country))
    db.expire_all()
    assert db.get(SendingSettings, owner.merchant_id).locale == expected


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
    assert "&lt;b&gt;bold&lt;/b&gt;" in page and "<b>bold" not in page
    state = parse_qs(urlsplit(_start(client)).query)["state"][0]
    page = _callback(client, f"/connect/callback?error=invalid_scope&state={state}")
    assert "Stripe could not connect your account (invalid_scope)" in page
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


def test_disconnect_deauthorizes_at_stripe_stops_sending_and_reconnecting_works(
    app, db, login, sandbox_server, live_server, monkeypatch
):
    endpoint = _platform(sandbox_server).v1.webhook_endpoints.create(
        {"url": f"{live_server}/webhooks/stripe/connect", "connect": True, "enabled_events": ["*"]}
    )
    monkeypatch.setitem(app.config, "STRIPE_CONNECT_WEBHOOK_SECRET", endpoint.secret)
    client, owner = _owner(app, login)
    account_id = _account(sandbox_server, "Round Trip")
    _connect(client, sandbox_server, account=account_id)

    response = post_form(client, "/connect/disconnect", {}, page="/connect")
    assert response.status_code == 302
    page = client.get("/connect").get_data(as_text=True)
    assert "Stripe is disconnected" in page and "Connect with Stripe" in page
    merchant = db.get(Merchant, owner.merchant_id)
    db.expire_all()
    policy = settings.policy_for(
        merchant, settings.settings_for(merchant.id), merchant.stripe_account, True
    )
    assert policy.connected is False
    assert sandbox_server.extensions["sandbox"].wait_idle(10)
    db.rollback()  # a fresh snapshot, with the webhook's row
    (event,) = db.scalars(
        select(StripeEvent).where(StripeEvent.type == "account.application.deauthorized")
    ).all()
    assert event.account_id == account_id
    with pytest.raises(stripe.PermissionError):
        _platform(sandbox_server).v1.accounts.retrieve_current(
            options={"stripe_account": account_id}
        )
    db.rollback()
    with app.app_context():
        assert events.drain() == 1

    page = _connect(client, sandbox_server, account=account_id)
    assert "Stripe is connected: Round Trip." in page
    (account,) = _stored(db)
    assert account.is_connected and account.account_id == account_id


def test_disconnect_still_disconnects_when_stripe_refuses(app, db, login, sandbox_server):
    client, owner = _owner(app, login)
    account_id = _account(sandbox_server, "Gone Shop")
    _connect(client, sandbox_server, account=account_id)
    _platform(sandbox_server).oauth.deauthorize({"stripe_user_id": account_id})  # already gone
    post_form(client, "/connect/disconnect", {}, page="/connect")
    page = _text(client.get("/connect").get_data(as_text=True))
    assert "Disconnected here" in page and "Stripe did not confirm" in page
    (account,) = _stored(db)
    assert not account.is_connected


def test_disconnect_when_stripe_is_unreachable(app, db, login, sandbox_server, monkeypatch):
    client, _ = _owner(app, login)
    _connect(client, sandbox_server, account="new")
    monkeypatch.setitem(app.config, "STRIPE_CONNECT_BASE", "http://127.0.0.1:9")
    post_form(client, "/connect/disconnect", {}, page="/connect")
    page = _text(client.get("/connect").get_data(as_text=True))
    assert "Disconnected here" in page and "Stripe could not be reached" in page
    assert not _stored(db)[0].is_connected


def _keys(sandbox, account_id: str) -> dict:
    url = f"{sandbox.base}/_sandbox/accounts/{account_id}?format=json"
    return requests.get(url, timeout=5).json()["keys"]


def _direct(client, api_key: str, secret: str = "whsec_0123456789abcdef"):
    data = {"api_key": api_key, "webhook_secret": secret}
    return post_form(client, "/connect/direct", data, page="/connect")


def _error_beside(page: str, field_id: str) -> str:
    block = next(b for b in page.split('<div class="field') if f'id="{field_id}"' in b)
    match = re.search(r'<p class="error">([^<]+)</p>', block)
    assert match, f"no error beside {field_id}"
    return html.unescape(match.group(1))


def test_direct_mode_checks_the_key_and_stores_both_secrets_sealed(app, db, login, sandbox_server):
    client, owner = _owner(app, login)
    account_id = _account(sandbox_server, "Self Hosted")
    key = _keys(sandbox_server, account_id)["rk_live"]
    response = _direct(client, key, "whsec_SelfHostedSecret42")
    assert response.status_code == 302
    page = client.get("/connect").get_data(as_text=True)
    (account,) = _stored(db)
    assert (account.account_id, account.method, account.livemode) == (account_id, "direct", True)
    row = db.execute(select(StripeAccount.__table__).where(StripeAccount.id == account.id)).one()
    assert not any(key in str(v) or "SelfHostedSecret42" in str(v) for v in row)
    assert key not in page and "SelfHostedSecret42" not in page and key[-4:] in page
    assert f"{app.config['PUBLIC_URL']}/webhooks/stripe/direct/{owner.merchant_id}" in page
    for event in connect.DIRECT_EVENTS:
        assert event in page
    assert "Checkout Sessions" in page and "Self Hosted" in page and ">Live<" in page


def test_direct_mode_takes_a_test_key_as_test_mode(app, db, login, sandbox_server):
    client, _ = _owner(app, login)
    account_id = _account(sandbox_server, "Test Only")
    assert _direct(client, _keys(sandbox_server, account_id)["rk_test"]).status_code == 302
    assert _stored(db)[0].livemode is False
    page = client.get("/connect").get_data(as_text=True)
    assert '<dd id="account-mode">Test<p class="hint">A test key sees only test-mode' in page
    assert "save a live key (rk_live_…)" in page


def test_a_key_stripe_does_not_know_is_refused_beside_the_field(app, db, login, sandbox_server):
    client, _ = _owner(app, login)
    wrong = "rk_live_" + "Z" * 40
    response = _direct(client, wrong)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and wrong not in page
    assert "Stripe does not know this key" in _error_beside(page, "api_key")
    assert _stored(db) == []


@pytest.mark.parametrize(
    ("key", "secret", "field", "message"),
    [
        ("pk_live_0123456789abcdef", "whsec_0123456789", "api_key", "publishable key"),
        ("hello", "whsec_0123456789", "api_key", "starts with rk_live_"),
        ("", "whsec_0123456789", "api_key", "Paste your restricted key"),
        ("rk_live_0123456789abcdef", "secret", "webhook_secret", "starts with whsec_"),
        ("rk_live_0123456789abcdef", "", "webhook_secret", "Paste the endpoint"),
        ("sk_live_bogus", "whsec_0123456789", "api_key", "cut short"),
        ("rk_live_0123456789abcdef", "whsec_x", "webhook_secret", "cut short"),
        ("rk_test_" + "A" * 70_000, "whsec_0123456789", "api_key", "longer than any Stripe"),
        ("rk_live_0123456789abcdef", "whsec_" + "B" * 300, "webhook_secret", "longer than any"),
    ],
)
def test_bad_formats_are_refused_beside_their_field(
    app, db, login, sandbox_server, key, secret, field, message
):
    client, _ = _owner(app, login)
    response = _direct(client, key, secret)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and message in _error_beside(page, field)
    assert "Nothing was saved" in page and _stored(db) == []
    if key:
        assert key not in page


def test_disconnecting_direct_mode_forgets_the_key(app, db, login, sandbox_server):
    client, _ = _owner(app, login)
    account_id = _account(sandbox_server, "Forget Me")
    _direct(client, _keys(sandbox_server, account_id)["rk_live"])
    post_form(client, "/connect/disconnect", {}, page="/connect")
    (account,) = _stored(db)
    assert not account.is_connected
    assert account.api_key_sealed is None and account.webhook_secret_sealed is None


def test_members_see_the_state_but_may_change_nothing(app, db, login, sandbox_server):
    client, owner = _owner(app, login, "Team Shop")
    account_id = _account(sandbox_server, "Team Account")
    _connect(client, sandbox_server, account=account_id)
    member = make_member(owner.merchant_id)
    member_client = app.test_client()
    login(member_client, member.email, PASSWORD)
    page = member_client.get("/connect").get_data(as_text=True)
    assert "Team Account" in page and account_id in page
    assert "Disconnect Stripe" not in page and "Only the account" in page
    for path in ("/connect/oauth", "/connect/disconnect", "/connect/direct"):
        assert post_form(member_client, path, {}, page="/connect").status_code == 403
    assert member_client.get("/connect/callback?code=ac_x&state=y").status_code == 403
    assert _stored(db)[0].is_connected


def test_logged_out_visitors_are_sent_to_log_in(app, client):
    assert client.get("/connect").headers["Location"].startswith("/login")
    assert client.get("/connect/callback?code=x").headers["Location"].startswith("/login")
    for path in ("/connect/oauth", "/connect/disconnect", "/connect/direct"):
        response = post_form(client, path, {}, page="/login")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_another_merchants_account_never_shows(app, db, login, sandbox_server):
    alpha, _ = _owner(app, login, "Alpha")
    account_id = _account(sandbox_server, "Alpha Account")
    _connect(alpha, sandbox_server, account=account_id)
    beta, _ = _owner(app, login, "Beta")
    page = beta.get("/connect").get_data(as_text=True)
    assert "Alpha Account" not in page and account_id not in page
    assert "Stripe is not connected" in page


def test_direct_mode_with_stripe_unreachable_blames_no_field(app, db, login, monkeypatch):
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        closed = unused.getsockname()[1]
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", f"http://127.0.0.1:{closed}")
    client, _ = _owner(app, login)
    response = _direct(client, "rk_live_0123456789abcdef")
    assert response.status_code == 503
    page = html.unescape(response.get_data(as_text=True))
    assert "The key could not be checked: Stripe could not be reached" in page
    assert "Nothing was saved: paste both again in a minute." in page
    assert "please correct the fields" not in page and 'class="error"' not in page
    assert _stored(db) == []
