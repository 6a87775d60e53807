"""Just before a send, the session's address, consent and recovery link are Stripe's own, not a
webhook's: events to a direct-mode merchant's endpoint are signed with that merchant's secret,
so a webhook alone could name any link (an open redirect on the portal's domain) or address."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import pytest
import requests
import stripe
from sqlalchemy import select

import stripe_events as se
from portal.extensions import rq
from portal import sealing
from portal.models import CheckoutSession, StripeAccount
from factories import PASSWORD
from recovery_kit import make_kit
from smtp_sink import SmtpSink

EVIL = "https://evil.example/phish"


@pytest.fixture
def kit(app, sandbox_server, redis_conn, live_server, monkeypatch):
    monkeypatch.setattr(rq, "connection", redis_conn)
    with SmtpSink() as sink:
        yield make_kit(app, sandbox_server, sink, redis_conn, live_server, monkeypatch)


def _forged(kit, session_id: str, created: int, **fields) -> dict:
    recovery = {"enabled": True, "allow_promotion_codes": False, "url": EVIL}
    recovery["expires_at"] = int(time.time()) + 30 * 86400
    return se.expired(
        session_id,
        kit.account,
        created=created,
        after_expiration={"recovery": recovery},
        **fields,
    )


def _post(client, app, event: dict) -> None:
    secret = app.config["STRIPE_CONNECT_WEBHOOK_SECRET"]
    assert se.post(client, event, secret=secret).status_code == 200


def test_the_link_and_address_are_stripes_whatever_a_webhook_said(kit, client, db, app):
    session_id = kit.checkout("sam@example.com")
    # A forged event, newer than the real one to come: another address and another link.
    later = int(time.time()) + 3600
    _post(client, app, _forged(kit, session_id, later, email="victim@elsewhere.example"))
    kit.action(session_id, "expire")
    kit.settle()
    (received,) = kit.sink.messages
    assert received.message["To"] == "sam@example.com"
    text = received.message.get_body(("plain",)).get_content()
    link = next(w for w in text.split() if w.startswith("https://portal.example/r/"))
    clicked = client.get(urlsplit(link).path)
    stripes = kit.client.v1.checkout.sessions.retrieve(session_id)
    assert clicked.status_code == 303
    assert clicked.headers["Location"] == stripes.after_expiration.recovery.url != EVIL
    # A forged event after the send changes the link no more.
    _post(client, app, _forged(kit, session_id, later + 60))
    kit.drain()
    db.expire_all()
    mirror = db.scalars(select(CheckoutSession)).one()
    assert mirror.recovery_url == stripes.after_expiration.recovery.url
    assert client.get(urlsplit(link).path).headers["Location"] != EVIL


def test_no_email_goes_out_when_stripe_says_the_shopper_did_not_consent(kit, client, db, app):
    session_id = kit.checkout("sam@example.com", consent=False)
    _post(client, app, _forged(kit, session_id, int(time.time()) + 3600))  # says opt_in
    kit.action(session_id, "expire")
    kit.settle()
    assert kit.sink.messages == []
    assert kit.case(session_id).reason == "no_consent"


def test_a_session_stripe_does_not_know_is_skipped_in_words(kit, client, db, app, login):
    forged = "cs_live_" + "f" * 58  # named in a signed event, never created in Stripe
    _post(client, app, _forged(kit, forged, int(time.time()), email="sam@example.com"))
    kit.settle()
    assert kit.sink.messages == []
    case = kit.case(forged)
    assert (case.status, case.reason) == ("skipped", "unknown_to_stripe")
    login(client, "owner@bean.example", PASSWORD)
    page = client.get(f"/carts/{case.id}").get_data(as_text=True)
    assert "Stripe does not know this checkout" in page
    assert "had no such checkout for your account" in page


def test_stripes_refusals_are_told_apart_from_no_answer():
    from portal.services import stripe_gateway

    assert stripe_gateway.refusal(stripe.AuthenticationError("no", http_status=401)) == (
        "key_refused"
    )
    assert stripe_gateway.refusal(stripe.PermissionError("no", http_status=403)) == (
        "permission_missing"
    )
    missing = stripe.InvalidRequestError("No such checkout.session", "id", http_status=404)
    assert stripe_gateway.refusal(missing) == "not_found"
    assert stripe_gateway.refusal(stripe.APIConnectionError("timed out")) is None
    assert stripe_gateway.refusal(stripe.APIError("oops", http_status=500)) is None


def test_a_test_mode_session_claimed_live_by_a_webhook_is_not_emailed(kit, client, db, app):
    # The merchant in direct mode with a test key: its own key reads its own test sessions.
    keys = requests.get(
        f"{kit.sandbox.base}/_sandbox/accounts/{kit.account}?format=json", timeout=5
    ).json()["keys"]
    account = db.scalars(select(StripeAccount)).one()
    account.method = "direct"
    account.api_key_sealed = sealing.seal(keys["rk_test"], app.config["ENCRYPTION_KEY"])
    db.commit()
    test_client = stripe.StripeClient(
        keys["rk_test"], base_addresses={"api": kit.sandbox.base, "connect": kit.sandbox.base}
    )
    session_id = kit.checkout("target@example.com", client=test_client)
    assert test_client.v1.checkout.sessions.retrieve(session_id).livemode is False
    kit.action(session_id, "expire")
    real = test_client.v1.checkout.sessions.retrieve(session_id).to_dict()
    forged = se.expired(session_id, kit.account, created=int(time.time()) + 3600)
    forged["data"]["object"] = {**real, "livemode": True}
    forged["livemode"] = True
    _post(client, app, forged)
    kit.settle()
    assert kit.sink.messages == []
    assert kit.case(session_id).reason == "test_mode"


def test_the_cart_page_lists_the_items_stripe_gave_at_the_send(kit, client, db, app, login):
    session_id = kit.checkout("sam@example.com")
    login(client, "owner@bean.example", PASSWORD)
    kit.action(session_id, "expire")
    kit.drain()  # the webhook only: no look at Stripe yet, so no items
    case = kit.case(session_id)
    before = client.get(f"/carts/{case.id}").get_data(as_text=True)
    assert "its items are read from Stripe when an email is due" in before
    kit.settle()
    assert len(kit.sink.messages) == 1
    page = client.get(f"/carts/{case.id}").get_data(as_text=True)
    assert '<bdi class="wrap">Single-origin beans</bdi> × 2' in page and "$36.00" in page
    db.expire_all()
    assert db.scalars(select(CheckoutSession)).one().cart == [
        {"name": "Single-origin beans", "quantity": 2, "amount": 3600, "currency": "usd"}
    ]


def test_the_page_of_a_cart_never_emailed_says_why_it_lists_no_items(kit, client, db, app, login):
    session_id = kit.checkout("noa@example.com", consent=False)
    login(client, "owner@bean.example", PASSWORD)
    kit.action(session_id, "expire")
    kit.settle()
    assert kit.sink.messages == []
    page = client.get(f"/carts/{kit.case(session_id).id}").get_data(as_text=True)
    assert "(no email went, so its items were never read from Stripe)" in page
