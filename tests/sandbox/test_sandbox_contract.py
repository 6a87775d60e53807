"""Every object the sandbox returns has exactly the top-level fields of Stripe's fixture."""

from __future__ import annotations

import requests


def _fields(obj) -> set:
    return set(obj.to_dict() if hasattr(obj, "to_dict") else obj)


def test_catalog_objects_match_fixture(sandbox, fixtures, kit):
    client = sandbox.client()
    account, _ = sandbox.account()
    options = {"stripe_account": account}
    price = kit.make_price(client, account)
    product = client.v1.products.retrieve(price.product, options=options)
    coupon = client.v1.coupons.create({"percent_off": 10, "duration": "once"}, options=options)
    promo = client.v1.promotion_codes.create(
        {"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "BACK10"}, options=options
    )
    assert _fields(price) == set(fixtures["price"])
    assert _fields(product) == set(fixtures["product"])
    assert _fields(coupon) == set(fixtures["coupon"])
    assert _fields(promo) == set(fixtures["promotion_code"])
    assert _fields(client.v1.accounts.retrieve(account)) == set(fixtures["account"])


def test_checkout_objects_match_fixture(sandbox, fixtures, kit):
    client = sandbox.client()
    account, _ = sandbox.account()
    options = {"stripe_account": account}
    session = kit.make_session(client, account, kit.make_price(client, account).id)
    assert _fields(session) == set(fixtures["checkout.session"])
    items = client.v1.checkout.sessions.line_items.list(session.id, options=options)
    assert _fields(items.data[0]) == set(fixtures["item"])
    assert _fields(items.data[0].price) == set(fixtures["price"])
    sandbox.post(f"/_sandbox/checkout/sessions/{session.id}/pay", email="a@example.com")
    paid = client.v1.checkout.sessions.retrieve(session.id, options=options)
    intent = requests.get(
        f"{sandbox.base}/v1/payment_intents/{paid.payment_intent}",
        headers={"Authorization": "Bearer sk_live_sandbox_platform", "Stripe-Account": account},
        timeout=5,
    ).json()
    assert _fields(paid) == set(fixtures["checkout.session"])
    assert set(intent) == set(fixtures["payment_intent"])


def test_event_matches_fixture_plus_connect_account(sandbox, fixtures, kit):
    client = sandbox.client()
    account, _ = sandbox.account()
    session = kit.make_session(client, account, kit.make_price(client, account).id)
    client.v1.checkout.sessions.expire(session.id, options={"stripe_account": account})
    event = client.v1.events.list(options={"stripe_account": account}).data[0]
    assert _fields(event) - {"account"} == set(fixtures["event"])
    assert event.account == account
    assert _fields(event.data.object) == set(fixtures["checkout.session"])
