"""The abandoned-cart journey end to end: consent, expiry, signed webhooks, recovery, payment."""

from __future__ import annotations

import re

import requests


def _connect_endpoint(sandbox, receiver) -> str:
    endpoint = sandbox.client().v1.webhook_endpoints.create(
        {
            "url": receiver.url,
            "connect": True,
            "enabled_events": ["checkout.session.expired", "checkout.session.completed"],
        }
    )
    return endpoint.secret


def _assert_a_fresh_recovered_session(sandbox, client, session, new_id: str, options: dict):
    """The recovery link opened a new open session for the same amount, with a day to pay."""
    recovered = client.v1.checkout.sessions.retrieve(new_id, options=options)
    assert recovered.recovered_from == session.id and recovered.status == "open"
    assert recovered.amount_total == session.amount_total
    assert (
        recovered.expires_at
        - sandbox.client().v1.checkout.sessions.retrieve(new_id, options=options).created
        == 24 * 3600
    )


def test_journey_with_consent_through_sdk(sandbox, receiver, kit):
    secret = _connect_endpoint(sandbox, receiver)
    client = sandbox.client()
    account, _ = sandbox.account()
    options = {"stripe_account": account}
    session = kit.make_session(client, account, kit.make_price(client, account).id)
    shopper = sandbox.post(
        f"/_sandbox/checkout/sessions/{session.id}/shopper",
        email="Sam@Example.com",
        promotions_consent="true",
        name="Sam",
    )
    assert shopper.json()["consent"]["promotions"] == "opt_in"
    advanced = sandbox.post("/_sandbox/clock/advance", seconds=str(24 * 3600 + 5)).json()
    assert advanced["expired_sessions"] == 1
    assert sandbox.runtime.wait_idle(5)
    (expired,) = receiver.of_type(secret, "checkout.session.expired")
    assert expired.account == account and expired.livemode is True
    body = expired.data.object
    assert body.id == session.id and body.status == "expired"
    assert body.customer_details.email == "Sam@Example.com"
    assert body.after_expiration.recovery.expires_at == body.expires_at + 30 * 86400
    recovery_url = body.after_expiration.recovery.url
    page = requests.get(recovery_url, timeout=5)
    assert page.status_code == 200 and "Keep me updated" in page.text
    # The shopper coming back finds what they typed before filled in again.
    assert 'value="Sam@Example.com"' in page.text and 'value="Sam"' in page.text
    new_id = page.url.rsplit("/", 1)[1]
    _assert_a_fresh_recovered_session(sandbox, client, session, new_id, options)
    assert requests.get(recovery_url, timeout=5).url == page.url  # reused while open
    sandbox.post(f"/_sandbox/checkout/sessions/{new_id}/pay", email="sam@example.com")
    assert sandbox.runtime.wait_idle(5)
    (completed,) = receiver.of_type(secret, "checkout.session.completed")
    assert completed.data.object.recovered_from == session.id
    assert completed.data.object.payment_status == "paid"
    assert completed.account == account


def test_without_consent_the_expired_session_has_no_email(sandbox, receiver, kit):
    secret = _connect_endpoint(sandbox, receiver)
    client = sandbox.client()
    account, _ = sandbox.account()
    session = kit.make_session(client, account, kit.make_price(client, account).id)
    sandbox.post(
        f"/_sandbox/checkout/sessions/{session.id}/shopper",
        email="quiet@example.com",
        promotions_consent="false",
    )
    sandbox.post(f"/_sandbox/checkout/sessions/{session.id}/expire")
    assert sandbox.runtime.wait_idle(5)
    (event,) = receiver.of_type(secret, "checkout.session.expired")
    assert event.data.object.consent.promotions == "opt_out"
    assert event.data.object.customer_details.email is None
    assert event.data.object.after_expiration.recovery.url


def test_expired_recovery_url_shows_error_page(sandbox, kit):
    client = sandbox.client()
    account, _ = sandbox.account()
    session = kit.make_session(client, account, kit.make_price(client, account).id)
    expired = client.v1.checkout.sessions.expire(session.id, options={"stripe_account": account})
    sandbox.post("/_sandbox/clock/advance", seconds=str(31 * 86400))
    page = requests.get(expired.after_expiration.recovery.url, timeout=5)
    assert page.status_code == 410 and "expired" in page.text


def _plain_shop_checkout(base: str, auth: dict, receiver_url: str):
    """An endpoint, a connected Plain Shop and a checkout for its socks, all by form posts."""
    hook = requests.post(
        f"{base}/v1/webhook_endpoints",
        headers=auth,
        data={"url": receiver_url, "connect": "true", "enabled_events[]": "*"},
        timeout=5,
    ).json()
    account = requests.post(
        f"{base}/v1/accounts",
        headers=auth,
        data={"type": "standard", "business_profile[name]": "Plain Shop"},
        timeout=5,
    ).json()["id"]
    as_account = {**auth, "Stripe-Account": account}
    price = requests.post(
        f"{base}/v1/prices",
        headers=as_account,
        data={"unit_amount": "1500", "currency": "usd", "product_data[name]": "Socks"},
        timeout=5,
    ).json()
    session = requests.post(
        f"{base}/v1/checkout/sessions",
        headers=as_account,
        data={
            "mode": "payment",
            "line_items[0][price]": price["id"],
            "line_items[0][quantity]": "1",
            "consent_collection[promotions]": "auto",
            "after_expiration[recovery][enabled]": "true",
        },
        timeout=5,
    ).json()
    return hook, as_account, session


def test_independent_client_with_plain_form_posts(sandbox, receiver):
    """The same journey without the SDK: what any HTTP client would send."""
    base, auth = sandbox.base, {"Authorization": "Bearer sk_live_sandbox_platform"}
    hook, as_account, session = _plain_shop_checkout(base, auth, receiver.url)
    page = requests.get(session["url"], timeout=5)
    assert "Socks" in page.text and "15.00 USD" in page.text
    saved = requests.post(
        session["url"],
        data={"email": "p@example.com", "promotions_consent": "on", "action": "save"},
        timeout=5,
    )
    assert saved.status_code == 200 and 'value="p@example.com"' in saved.text
    assert "Details saved on this checkout session." in saved.text  # the click did something
    assert "Details saved" not in requests.get(session["url"], timeout=5).text  # only after it
    left = requests.get(f"{session['url']}/leave", timeout=5)
    assert "You left" in left.text
    requests.post(f"{base}/_sandbox/checkout/sessions/{session['id']}/expire", timeout=5)
    fetched = requests.get(
        f"{base}/v1/checkout/sessions/{session['id']}", headers=as_account, timeout=5
    ).json()
    assert fetched["customer_details"]["email"] == "p@example.com"
    recovered = requests.get(fetched["after_expiration"]["recovery"]["url"], timeout=5)
    paid = requests.post(
        recovered.url,
        data={"email": "p@example.com", "action": "pay"},
        allow_redirects=False,
        timeout=5,
    )
    assert paid.status_code == 303 and "/c/pay/" in paid.headers["Location"]
    assert sandbox.runtime.wait_idle(5)
    types = [e.type for e in receiver.events(hook["secret"])]
    assert types == ["checkout.session.expired", "checkout.session.completed"]


def test_hosted_page_pay_redirects_to_success_url(sandbox, kit):
    client = sandbox.client()
    account, _ = sandbox.account()
    session = kit.make_session(client, account, kit.make_price(client, account).id)
    page = requests.get(session.url, timeout=5)
    assert re.search(r'name="promotions_consent"', page.text)
    paid = requests.post(
        session.url,
        data={"email": "a@example.com", "action": "pay"},
        allow_redirects=False,
        timeout=5,
    )
    assert paid.headers["Location"] == f"https://shop.example/ok?cs={session.id}"
    done = client.v1.checkout.sessions.retrieve(session.id, options={"stripe_account": account})
    assert done.status == "complete" and done.consent.promotions == "opt_out"
    assert done.payment_intent.startswith("pi_")
    assert "Payment complete" in requests.get(session.url, timeout=5).text
