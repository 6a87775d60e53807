"""Direct mode on /connect: a merchant's own key checked, sealed, refused beside its field, forgotten."""

from __future__ import annotations

import html
import re
import socket

import pytest
import requests
from sqlalchemy import select

from helpers import post_form
from portal.models import StripeAccount
from connect_kit import _account, _authorize, _callback, _owner, _start, _stored, _text


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
    for kind in ("expired", "completed", "async_payment_succeeded", "async_payment_failed"):
        assert f"checkout.session.{kind}" in page
    assert "Checkout Sessions" in page and "Self Hosted" in page and ">Live<" in page
    assert "<dt>Events</dt><dd>Read, so a delivery refused" in page  # see knows_event


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
        ("rk_live_0123456789abcdef", "   ", "webhook_secret", "Paste the endpoint"),
        (" \t ", "whsec_0123456789", "api_key", "Paste your restricted key"),
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
    if key:  # never sent back, and the page says so: both fields are empty again
        assert key not in page and "a key is never sent back to the page: paste both again" in page


def test_disconnecting_direct_mode_forgets_the_key(app, db, login, sandbox_server):
    client, _ = _owner(app, login)
    account_id = _account(sandbox_server, "Forget Me")
    _direct(client, _keys(sandbox_server, account_id)["rk_live"])
    post_form(client, "/connect/disconnect", {}, page="/connect")
    (account,) = _stored(db)
    assert not account.is_connected
    assert account.api_key_sealed is None and account.webhook_secret_sealed is None


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


def test_a_tab_opened_before_connecting_changes_nothing_once_connected(
    app, db, login, sandbox_server
):
    client, _ = _owner(app, login)
    first = _account(sandbox_server, "First Shop")
    assert (
        _direct(client, _keys(sandbox_server, first)["rk_live"], "whsec_FirstSecret42").status_code
        == 302
    )
    (before,) = _stored(db)
    sealed = (before.api_key_sealed, before.webhook_secret_sealed)
    other = _keys(sandbox_server, _account(sandbox_server, "Other Shop"))["rk_test"]
    # A stale tab's posts: a bad key, another account's good key, Connect's button.
    for post in (
        lambda: _direct(client, "rk_live_bad"),
        lambda: _direct(client, other, "whsec_OtherSecret42"),
        lambda: post_form(client, "/connect/oauth", {}, page="/connect"),
    ):
        answer = post()
        assert (answer.status_code, answer.headers["Location"]) == (302, "/connect")
        page = html.unescape(client.get("/connect").get_data(as_text=True))
        assert "Stripe is already connected (First Shop): nothing was changed." in page
        assert "use “Replace the signing secret”" in page
    (after,) = _stored(db)
    assert (after.account_id, after.livemode) == (first, True)
    assert (after.api_key_sealed, after.webhook_secret_sealed) == sealed


def test_stripes_answer_to_a_connection_started_before_connecting_with_a_key_changes_nothing(
    app, db, login, sandbox_server
):
    client, _ = _owner(app, login)
    stale = _authorize(sandbox_server, _start(client), account="new")  # not followed yet
    mine = _account(sandbox_server, "Own Key Shop")
    assert _direct(client, _keys(sandbox_server, mine)["rk_live"]).status_code == 302
    page = _text(_callback(client, stale))
    assert "Stripe is already connected (Own Key Shop): nothing was changed." in page
    [account] = _stored(db)
    assert (account.account_id, account.method) == (mine, "direct")
