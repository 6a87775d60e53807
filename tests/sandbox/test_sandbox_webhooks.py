"""Webhook signing, routing, retries and the async payment events."""

from __future__ import annotations

import json
import re

import requests
import stripe

from stripe_sandbox.webhooks import signature_header


def test_signature_matches_stripe_python():
    body = json.dumps({"id": "evt_1", "object": "event"})
    header = signature_header(body, "whsec_abc")
    assert stripe.Webhook.construct_event(body, header, "whsec_abc").id == "evt_1"
    expected = stripe.WebhookSignature._compute_signature(
        f"{header.split(',')[0][2:]}.{body}", "whsec_abc"
    )
    assert header.endswith(f"v1={expected}")


def test_retries_until_the_receiver_accepts(sandbox, receiver, kit):
    receiver.fail_first = 2
    secret = (
        sandbox.client()
        .v1.webhook_endpoints.create(
            {"url": receiver.url, "connect": True, "enabled_events": ["*"]}
        )
        .secret
    )
    account, _ = sandbox.account()
    client = sandbox.client()
    session = kit.make_session(client, account, kit.make_price(client, account).id)
    client.v1.checkout.sessions.expire(session.id, options={"stripe_account": account})
    assert sandbox.runtime.wait_idle(5)
    assert len(receiver.hits) == 3
    (event,) = receiver.events(secret)
    assert event.type == "checkout.session.expired"
    (delivery,) = sandbox.runtime.deliveries()
    assert delivery["status"] == "delivered"
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 200]
    fetched = client.v1.events.retrieve(event.id, options={"stripe_account": account})
    assert fetched.pending_webhooks == 0


def test_gives_up_after_the_last_delay(sandbox, receiver, kit):
    receiver.fail_first = 100
    sandbox.client().v1.webhook_endpoints.create(
        {"url": receiver.url, "connect": True, "enabled_events": ["checkout.session.expired"]}
    )
    account, _ = sandbox.account()
    client = sandbox.client()
    session = kit.make_session(client, account, kit.make_price(client, account).id)
    sandbox.post(f"/_sandbox/checkout/sessions/{session.id}/expire")
    assert sandbox.runtime.wait_idle(5)
    (delivery,) = sandbox.runtime.deliveries()
    assert delivery["status"] == "failed" and len(delivery["attempts"]) == 4
    assert receiver.accepted == []


def test_routing_by_account_mode_and_type(sandbox, receiver, kit):
    account, keys = sandbox.account()
    other, _ = sandbox.account("Other")
    direct = sandbox.client(keys["sk_live"])
    direct_secret = direct.v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["checkout.session.completed"]}
    ).secret
    for owner in (account, other):
        session = kit.make_session(
            direct if owner == account else sandbox.client(),
            owner,
            kit.make_price(sandbox.client(), owner).id,
        )
        sandbox.post(f"/_sandbox/checkout/sessions/{session.id}/pay", email="a@example.com")
        sandbox.post(f"/_sandbox/checkout/sessions/{session.id}/async_payment", result="failed")
    assert sandbox.runtime.wait_idle(5)
    events = receiver.events(direct_secret)
    assert [(e.type, "account" in e.to_dict()) for e in events] == [
        ("checkout.session.completed", False)
    ]


def test_an_account_not_connected_reaches_its_own_endpoints_only(sandbox, receiver, kit):
    """A self-hoster's account (direct mode) is not the platform's: its events never reach the
    platform's Connect endpoint, so a wrong signing secret on its own endpoint shows."""
    connect_secret = (
        sandbox.client()
        .v1.webhook_endpoints.create(
            {"url": receiver.url, "connect": True, "enabled_events": ["*"]}
        )
        .secret
    )
    made = sandbox.post("/_sandbox/accounts/new", name="Side Shop")
    account = re.search(r"Account <code>(acct_\w+)</code>", made.text).group(1)
    page = sandbox.post(f"/_sandbox/accounts/{account}/coupons", percent_off="15", name="<b>")
    assert "<td>&lt;b&gt;</td><td>15%</td>" in page.text  # as the Dashboard makes one
    keys = requests.get(f"{sandbox.base}/_sandbox/accounts/{account}?format=json", timeout=5)
    own = sandbox.client(keys.json()["keys"]["sk_live"])
    assert [(c.percent_off, c.duration) for c in own.v1.coupons.list().data] == [(15, "once")]
    own_secret = own.v1.webhook_endpoints.create(
        {"url": receiver.url, "enabled_events": ["*"]}
    ).secret
    session = kit.make_session(own, account, kit.make_price(own, account).id)
    sandbox.post(f"/_sandbox/checkout/sessions/{session.id}/pay", email="a@example.com")
    assert sandbox.runtime.wait_idle(5)
    signed_for_connect = [b for b, sig in receiver.accepted if _signs(b, sig, connect_secret)]
    assert signed_for_connect == []
    assert [e.type for e in receiver.events(own_secret)] == ["checkout.session.completed"]


def _signs(body: bytes, signature: str, secret: str) -> bool:
    try:
        stripe.Webhook.construct_event(body.decode(), signature, secret)
    except stripe.SignatureVerificationError:
        return False
    return True


def test_async_payment_events(sandbox, receiver, kit):
    secret = (
        sandbox.client()
        .v1.webhook_endpoints.create(
            {
                "url": receiver.url,
                "connect": True,
                "enabled_events": [
                    "checkout.session.completed",
                    "checkout.session.async_payment_succeeded",
                    "checkout.session.async_payment_failed",
                ],
            }
        )
        .secret
    )
    account, _ = sandbox.account()
    client = sandbox.client()
    price = kit.make_price(client, account).id
    first, second = (kit.make_session(client, account, price) for _ in range(2))
    for session, result in ((first, "succeeded"), (second, "failed")):
        unpaid = sandbox.post(
            f"/_sandbox/checkout/sessions/{session.id}/pay",
            email="a@example.com",
            payment_status="unpaid",
        ).json()
        assert unpaid["status"] == "complete" and unpaid["payment_status"] == "unpaid"
        settled = sandbox.post(
            f"/_sandbox/checkout/sessions/{session.id}/async_payment", result=result
        ).json()
        assert settled["payment_status"] == ("paid" if result == "succeeded" else "unpaid")
    assert sandbox.runtime.wait_idle(5)
    types = [(e.type, e.data.object.id) for e in receiver.events(secret)]
    assert types == [
        ("checkout.session.completed", first.id),
        ("checkout.session.async_payment_succeeded", first.id),
        ("checkout.session.completed", second.id),
        ("checkout.session.async_payment_failed", second.id),
    ]


def test_test_mode_events_reach_live_connect_endpoint_only(sandbox, receiver, kit):
    live_secret = (
        sandbox.client()
        .v1.webhook_endpoints.create(
            {"url": receiver.url, "connect": True, "enabled_events": ["*"]}
        )
        .secret
    )
    account, keys = sandbox.account()
    test_client = sandbox.client(keys["sk_test"])
    session = kit.make_session(test_client, account, kit.make_price(test_client, account).id)
    sandbox.post(f"/_sandbox/checkout/sessions/{session.id}/expire")
    assert sandbox.runtime.wait_idle(5)
    (event,) = receiver.events(live_secret)
    assert event.livemode is False and event.account == account


def test_expiry_by_background_clock(sandbox, receiver, kit):
    secret = (
        sandbox.client()
        .v1.webhook_endpoints.create(
            {"url": receiver.url, "connect": True, "enabled_events": ["*"]}
        )
        .secret
    )
    account, _ = sandbox.account()
    client = sandbox.client()
    kit.make_session(client, account, kit.make_price(client, account).id)
    sandbox.runtime.store.advance(86400 + 1)  # no request: the ticker thread must notice
    kit.wait_for(lambda: receiver.events(secret))
    assert receiver.events(secret)[0].type == "checkout.session.expired"


def test_advancing_the_clock_counts_every_session_it_expires(sandbox, kit, monkeypatch):
    """The ticker thread runs every few ms in tests: if it could run between the clock moving
    and the advance's own sweep, it would take the session and the advance would report 0.
    Here a sweep from another thread is started right after the clock moves, as the ticker
    would; it must wait until the advance has expired (and counted) what became due."""
    import threading

    from stripe_sandbox import lifecycle

    store, config = sandbox.runtime.store, sandbox.app.config
    client = sandbox.client()
    account, _ = sandbox.account()
    kit.make_session(client, account, kit.make_price(client, account).id)
    original, rival = store.advance, []

    def advance_then_race(seconds):
        now = original(seconds)
        rival.append(
            threading.Thread(target=lambda: rival.append(lifecycle.expire_due(store, config)))
        )
        rival[0].start()
        rival[0].join(0.3)  # finishes at once unless the advance still holds the store
        return now

    monkeypatch.setattr(store, "advance", advance_then_race)
    advanced = sandbox.post("/_sandbox/clock/advance", seconds=str(86400 + 5)).json()
    rival[0].join(5)
    assert advanced["expired_sessions"] == 1 and rival[1:] == [0]
