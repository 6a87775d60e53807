"""The sandbox shop: a person starts a live checkout from a page and expires it on demand."""

from __future__ import annotations

import re

import requests
import stripe


def test_shop_starts_a_live_recoverable_checkout_and_expires_it(sandbox, kit):
    client = sandbox.client()
    account, _ = sandbox.account("Corner Bakery")
    price = kit.make_price(client, account, amount=450, name="Croissant")
    page = requests.get(f"{sandbox.base}/shop/{account}", timeout=5)
    assert page.status_code == 200 and "Croissant" in page.text and "4.50 USD" in page.text

    started = requests.post(
        f"{sandbox.base}/shop/{account}/checkout",
        data={"price": price.id, f"qty-{price.id}": "3"},
        timeout=5,
        allow_redirects=False,
    )
    assert started.status_code == 302 and "/c/pay/cs_live_" in started.headers["Location"]
    session_id = re.search(r"/c/pay/(cs_live_\w+)", started.headers["Location"]).group(1)
    session = client.v1.checkout.sessions.retrieve(session_id, options={"stripe_account": account})
    assert (session.livemode, session.amount_total, session.status) == (True, 1350, "open")
    assert session.consent_collection.promotions == "auto"
    assert session.after_expiration.recovery.enabled is True

    expired = requests.post(f"{sandbox.base}/shop/{account}/expire/{session_id}", timeout=5)
    assert expired.status_code == 200 and "Recovery link" in expired.text
    session = client.v1.checkout.sessions.retrieve(session_id, options={"stripe_account": account})
    assert session.status == "expired" and session.after_expiration.recovery.url

    again = requests.post(
        f"{sandbox.base}/shop/{account}/checkout",
        data={"price": price.id, f"qty-{price.id}": "1"},
        timeout=5,
    )
    paid_id = re.search(r"/c/pay/(cs_live_\w+)", again.url).group(1)
    paid = requests.post(again.url, data={"action": "pay", "email": "a@example.com"}, timeout=5)
    assert paid.url.startswith(f"{sandbox.base}/shop/{account}?paid=")  # back in the shop
    assert f"Thank you for your order: checkout <code>{paid_id}</code> is paid." in paid.text
    # The success URL can be typed: no thanks for an unpaid, unknown or other shop's session.
    for typed in (session_id, "cs_live_nope", "x\x00y", paid_id + "x"):
        page = requests.get(f"{sandbox.base}/shop/{account}", params={"paid": typed}, timeout=5)
        assert page.status_code == 200 and "Thank you" not in page.text
    other, _ = sandbox.account("Other Shop")
    page = requests.get(f"{sandbox.base}/shop/{other}", params={"paid": paid_id}, timeout=5)
    assert page.status_code == 200 and "Thank you" not in page.text


def test_shop_refuses_an_empty_cart_and_unknown_accounts(sandbox, kit):
    account, _ = sandbox.account()
    price = kit.make_price(sandbox.client(), account)
    empty = requests.post(
        f"{sandbox.base}/shop/{account}/checkout",
        data={"price": price.id, f"qty-{price.id}": "0"},
        timeout=5,
    )
    assert empty.status_code == 200 and "Pick at least one product." in empty.text
    assert requests.get(f"{sandbox.base}/shop/acct_nope", timeout=5).status_code == 404


def test_a_direct_mode_account_and_its_webhook_endpoint_are_made_from_pages(sandbox):
    made = requests.post(
        f"{sandbox.base}/_sandbox/accounts/new", data={"name": "Side Shop"}, timeout=5
    )
    assert made.status_code == 200 and "Side Shop" in made.text and "not connected" in made.text
    account = re.search(r"Account <code>(acct_\w+)</code>", made.text).group(1)
    key = re.search(r"<code>(rk_live_\w+)</code>", made.text).group(1)
    shop = requests.get(f"{sandbox.base}/shop/{account}", timeout=5)
    assert "Ceramic mug" in shop.text and "18.00 USD" in shop.text  # ready to sell
    target = "http://127.0.0.1:9/webhooks/stripe/direct/7"
    added = requests.post(
        f"{sandbox.base}/_sandbox/accounts/{account}/webhook_endpoints",
        data={"url": target, "mode": "live"},
        timeout=5,
    )
    secret = re.search(r"<code>(whsec_\w+)</code>", added.text).group(1)
    own = stripe.StripeClient(key, base_addresses={"api": sandbox.base})
    [endpoint] = own.v1.webhook_endpoints.list().data  # what the key itself sees
    assert (endpoint.url, endpoint.livemode) == (target, True) and secret
    refused = requests.post(
        f"{sandbox.base}/_sandbox/accounts/{account}/webhook_endpoints",
        data={"url": "ftp://x"},
        timeout=5,
    )
    assert "Invalid URL: must start with http:// or https://." in refused.text
    assert len(own.v1.webhook_endpoints.list().data) == 1
    for percent in ("0", "101", "abc"):  # the account's page says why; no coupon is made
        made = requests.post(
            f"{sandbox.base}/_sandbox/accounts/{account}/coupons",
            data={"percent_off": percent},
            timeout=5,
        )
        assert made.status_code == 200 and 'role="alert">No coupon was made: ' in made.text
    assert own.v1.coupons.list().data == []
