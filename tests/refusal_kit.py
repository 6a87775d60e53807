"""Direct-mode refusals in tests: deliveries signed with the wrong secret, and a direct
account whose key the sandbox knows (so that it can say which events it sent)."""

from __future__ import annotations

import pytest
import requests
import stripe
from rq import Queue

import stripe_events as se
from factories import make_owner
from portal import db as portal_db
from portal import worker
from portal.models import StripeAccount
from portal.services import connections

OWN_SECRET = "whsec_merchant_own"  # what make_direct saves
WRONG = "whsec_the_wrong_one"


def refused(app, client, redis_conn, owner, event: dict):
    """POST `event` signed with the wrong secret, then run the jobs it queued as a worker."""
    response = se.post(client, event, path=endpoint(owner), secret=WRONG)
    assert response.status_code == 400
    worker.run(app, redis_conn, [Queue("default", connection=redis_conn)], burst=True)
    return response


def endpoint(owner) -> str:
    return f"/webhooks/stripe/direct/{owner.merchant_id}"


def expired_event(session_id: str = "cs_live_A") -> dict:
    expired = se.expired(session_id, "acct_1Direct")
    del expired["account"]  # a direct endpoint's events carry no `account`
    return expired


def account_of(db, owner) -> StripeAccount:
    db.expire_all()
    return db.query(StripeAccount).filter_by(merchant_id=owner.merchant_id).one()


def direct_on_the_sandbox(app, sandbox) -> tuple:
    """An owner linked in direct mode with a restricted key the sandbox knows: it can say
    which events it sent. The owner and a client on that key."""
    platform = stripe.StripeClient(
        sandbox.config["PLATFORM_SECRET_KEY"], base_addresses={"api": sandbox.base}
    )
    account_id = platform.v1.accounts.create({"type": "standard"}).id
    url = f"{sandbox.base}/_sandbox/accounts/{account_id}?format=json"
    key = requests.get(url, timeout=5).json()["keys"]["rk_live"]
    owner = make_owner("Direct Shop", "direct@example.com")
    connections.link_account(
        owner.merchant,
        account_id,
        livemode=True,
        method="direct",
        api_key=key,
        webhook_secret=OWN_SECRET,
        keys=app.config["ENCRYPTION_KEY"],
    )
    portal_db.session.commit()
    return owner, stripe.StripeClient(key, base_addresses={"api": sandbox.base})


def an_event_stripe_sent(sandbox, own: stripe.StripeClient) -> str:
    price = {"currency": "usd", "unit_amount": 500, "product_data": {"name": "Tea"}}
    session = own.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price_data": price, "quantity": 1}],
            "success_url": "https://shop.example/ok",
        }
    )
    expire = f"{sandbox.base}/_sandbox/checkout/sessions/{session.id}/expire"
    assert requests.post(expire, timeout=5).ok
    sent = own.v1.events.list({"limit": 1}).data
    return sent[0].id if sent else pytest.fail("the sandbox recorded no event")
