"""The sandbox shop: a person starts a live checkout from a page and expires it on demand."""

from __future__ import annotations

import re

import requests


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
