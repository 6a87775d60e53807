"""Webhook signatures: refusals, rolled secrets, direct endpoints and timestamps."""

from __future__ import annotations

import json
import time


import stripe_events as se
from factories import make_direct
from webhook_ingest_kit import _stored


def test_signature_refusals_name_the_problem_and_store_nothing(client, db):
    body = json.dumps(se.expired("cs_live_A", "acct_1"))
    cases = {
        "signature does not match any configured secret": {
            "Stripe-Signature": se.sign(body, "whsec_wrong")
        },
        "more than 300 s old": {
            "Stripe-Signature": se.sign(body, timestamp=int(time.time()) - 301)
        },
        "missing Stripe-Signature header": {"Stripe-Signature": ""},
        "malformed Stripe-Signature header": {"Stripe-Signature": "v1=abc"},
    }
    for reason, headers in cases.items():
        response = se.post(client, body, headers=headers)
        assert response.status_code == 400, reason
        assert reason in response.get_data(as_text=True)
    tampered = se.post(
        client, body.replace("cs_live_A", "cs_live_Z"), headers={"Stripe-Signature": se.sign(body)}
    )
    assert tampered.status_code == 400
    assert _stored(db) == []


def test_a_rolled_secret_with_two_v1_values_is_accepted(client, db):
    body = json.dumps(se.expired("cs_live_A", "acct_1"))
    old = se.sign(body, "whsec_old_secret")
    new = se.sign(body)
    header = old + ",v1=" + new.split("v1=")[1]  # Stripe signs with both while a secret rolls
    assert se.post(client, body, headers={"Stripe-Signature": header}).status_code == 200
    assert len(_stored(db)) == 1


def test_both_secrets_configured_while_the_portal_rolls_its_own(app, client, db, monkeypatch):
    monkeypatch.setitem(
        app.config, "STRIPE_CONNECT_WEBHOOK_SECRET", f"whsec_new_one, {se.CONNECT_SECRET}"
    )
    assert se.post(client, se.expired("cs_live_A", "acct_1")).status_code == 200
    assert (
        se.post(client, se.expired("cs_live_B", "acct_1"), secret="whsec_new_one").status_code
        == 200
    )


def test_direct_endpoint_uses_the_merchants_own_secret(app, client, db):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    path = f"/webhooks/stripe/direct/{owner.merchant_id}"
    event = se.expired("cs_live_A", "acct_1Direct")
    del event["account"]  # direct endpoints get no `account`
    assert se.post(client, event, path=path).status_code == 400  # platform secret: wrong here
    assert se.post(client, event, path=path, secret="whsec_merchant_own").status_code == 200
    (row,) = _stored(db)
    assert (row.source, row.merchant_id, row.account_id) == ("direct", owner.merchant_id, None)
    assert se.post(client, event, path="/webhooks/stripe/direct/999999").status_code == 404


def test_a_signature_timestamp_in_the_future_is_refused_beyond_the_tolerance(client, db):
    """Stripe's tolerance bounds clock skew both ways: a header signed for later is a replay
    waiting to happen, a little skew is a clock."""
    body = json.dumps(se.expired("cs_live_A", "acct_1"))
    future = se.post(
        client, body, headers={"Stripe-Signature": se.sign(body, timestamp=int(time.time()) + 400)}
    )
    assert future.status_code == 400
    assert (
        future.get_data(as_text=True) == "signature timestamp is more than 300 s in the future\n"
    )
    assert _stored(db) == []
    skewed = se.post(
        client, body, headers={"Stripe-Signature": se.sign(body, timestamp=int(time.time()) + 60)}
    )
    assert skewed.status_code == 200
