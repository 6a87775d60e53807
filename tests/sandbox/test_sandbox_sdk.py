"""The real stripe SDK round-trips every call the portal makes."""

from __future__ import annotations

import pytest
import stripe


def test_products_and_prices_round_trip(sandbox):
    client = sandbox.client()
    account, _ = sandbox.account()
    options = {"stripe_account": account}
    product = client.v1.products.create(
        {"name": "Tea", "images": ["https://img.example/t.png"]}, options=options
    )
    price = client.v1.prices.create(
        {"unit_amount": 450, "currency": "EUR", "product": product.id}, options=options
    )
    assert client.v1.products.retrieve(product.id, options=options).images == [
        "https://img.example/t.png"
    ]
    assert client.v1.prices.retrieve(price.id, options=options).currency == "eur"
    assert [p.id for p in client.v1.prices.list({"product": product.id}, options=options)] == [
        price.id
    ]
    assert client.v1.products.list(options=options).data[0].id == product.id
    assert price.livemode is True and str(price.unit_amount_decimal) == "450"


def test_coupons_and_promotion_codes_round_trip(sandbox):
    client = sandbox.client()
    account, _ = sandbox.account()
    options = {"stripe_account": account}
    coupon = client.v1.coupons.create(
        {"amount_off": 500, "currency": "usd", "duration": "once"}, options=options
    )
    promo = client.v1.promotion_codes.create(
        {
            "promotion": {"type": "coupon", "coupon": coupon.id},
            "max_redemptions": 1,
            "expires_at": 4102444800,
        },
        options=options,
    )
    assert promo.promotion.coupon == coupon.id and promo.max_redemptions == 1
    assert client.v1.coupons.retrieve(coupon.id, options=options).amount_off == 500
    assert client.v1.promotion_codes.retrieve(promo.id, options=options).code == promo.code
    listed = client.v1.promotion_codes.list({"coupon": coupon.id}, options=options)
    assert [p.id for p in listed] == [promo.id]


def test_accounts_round_trip(sandbox):
    client = sandbox.client()
    account = client.v1.accounts.create(
        {
            "type": "standard",
            "email": "shop@example.com",
            "business_profile": {
                "name": "Bean Shop",
                "support_email": "help@example.com",
                "url": "https://bean.example",
                "support_address": {"line1": "1 Main St", "city": "Springfield"},
            },
            "settings": {"branding": {"primary_color": "#112233", "icon": "file_icon"}},
        }
    )
    fetched = client.v1.accounts.retrieve(account.id)
    assert fetched.business_profile.name == "Bean Shop"
    assert fetched.business_profile.support_address.city == "Springfield"
    assert fetched.settings.branding.primary_color == "#112233"
    assert [a.id for a in client.v1.accounts.list()] == [account.id]
    me = client.v1.accounts.retrieve_current(options={"stripe_account": account.id})
    assert me.id == account.id


def test_direct_keys_act_as_the_account(sandbox, kit):
    account, keys = sandbox.account()
    direct = sandbox.client(keys["rk_live"])
    assert direct.v1.accounts.retrieve_current().id == account
    price = kit.make_price(direct, account)
    session = kit.make_session(direct, account, price.id)
    platform_view = sandbox.client().v1.checkout.sessions.retrieve(
        session.id, options={"stripe_account": account}
    )
    assert platform_view.id == session.id
    test_mode = kit.make_session(
        sandbox.client(keys["sk_test"]),
        account,
        kit.make_price(sandbox.client(keys["sk_test"]), account).id,
    )
    assert test_mode.livemode is False and test_mode.id.startswith("cs_test_")


def test_webhook_endpoints_round_trip(sandbox):
    client = sandbox.client()
    endpoint = client.v1.webhook_endpoints.create(
        {
            "url": "https://portal.example/webhooks/stripe/connect",
            "connect": True,
            "enabled_events": ["checkout.session.expired", "checkout.session.completed"],
        }
    )
    assert endpoint.secret.startswith("whsec_")
    fetched = client.v1.webhook_endpoints.retrieve(endpoint.id)
    assert "secret" not in fetched.to_dict() and fetched.url.endswith("/connect")
    assert [e.id for e in client.v1.webhook_endpoints.list()] == [endpoint.id]
    assert client.v1.webhook_endpoints.delete(endpoint.id).deleted is True
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.webhook_endpoints.retrieve(endpoint.id)
    assert client.v1.webhook_endpoints.list().data == []  # gone from the lists too


def test_sessions_round_trip(sandbox, kit):
    client = sandbox.client()
    account, _ = sandbox.account()
    options = {"stripe_account": account}
    price = kit.make_price(client, account, amount=1250)
    session = kit.make_session(
        client, account, price.id, quantity=3, customer_email="x@example.com"
    )
    assert session.id.startswith("cs_live_") and session.status == "open"
    assert session.amount_subtotal == session.amount_total == 3750
    assert session.url == f"{sandbox.base}/c/pay/{session.id}"
    assert session.after_expiration.recovery.enabled is True
    assert client.v1.checkout.sessions.retrieve(session.id, options=options).id == session.id
    items = client.v1.checkout.sessions.line_items.list(session.id, options=options)
    assert [(i.description, i.quantity, i.amount_total) for i in items] == [("Mug", 3, 3750)]
    assert items.data[0].price.id == price.id
    expired = client.v1.checkout.sessions.expire(session.id, options=options)
    assert expired.status == "expired" and expired.url is None
    assert expired.after_expiration.recovery.url.startswith(f"{sandbox.base}/c/recover/")


def test_expand_line_items_and_product(sandbox, kit):
    client = sandbox.client()
    account, _ = sandbox.account()
    options = {"stripe_account": account}
    session = kit.make_session(client, account, kit.make_price(client, account, name="Kettle").id)
    full = client.v1.checkout.sessions.retrieve(
        session.id, {"expand": ["line_items"]}, options=options
    )
    assert full.line_items.data[0].description == "Kettle"
    items = client.v1.checkout.sessions.line_items.list(
        session.id, {"expand": ["data.price.product"]}, options=options
    )
    assert items.data[0].price.product.name == "Kettle"


def test_price_data_creates_inline_price(sandbox):
    client = sandbox.client()
    account, _ = sandbox.account()
    session = client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": "usd",
                        "unit_amount": 999,
                        "product_data": {"name": "Gift card"},
                    },
                }
            ],
        },
        options={"stripe_account": account},
    )
    items = client.v1.checkout.sessions.line_items.list(
        session.id, options={"stripe_account": account}
    )
    assert session.amount_total == 999 and items.data[0].description == "Gift card"
