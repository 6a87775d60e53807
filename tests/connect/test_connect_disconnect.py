"""Disconnecting a Connect account: deauthorizing at Stripe, stopping sends, and Stripe refusing or away."""

from __future__ import annotations

import pytest
import stripe
from sqlalchemy import select

from helpers import post_form
from portal.models import Merchant, StripeEvent
from portal.services import events, settings
from connect_kit import _account, _connect, _owner, _platform, _stored, _text


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
