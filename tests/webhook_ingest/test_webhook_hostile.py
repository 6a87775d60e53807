"""Hostile requests to the webhook endpoints: bodies, lengths, fields, methods and ids."""

from __future__ import annotations

import json

import pytest

import stripe_events as se
from portal import db as portal_db
from webhook_ingest_kit import _stored


@pytest.mark.parametrize(
    "body, content_type, reason",
    [
        ("{not json", "application/json", "body is not valid JSON"),
        ('["an", "array"]', "application/json", "body is not a Stripe event object"),
        (
            '{"object": "event", "id": "evt_1", "type": "x", "created": true, "livemode": true, "data": {"object": {}}}',
            "application/json",
            "event field 'created' is missing or not of type int",
        ),
        (
            '{"object": "event", "id": "evt_1", "type": "x", "created": 1, "livemode": true, "data": {}}',
            "application/json",
            "event field 'data.object' is missing",
        ),
        ('{"object": "event"}', "text/plain", "Content-Type must be application/json"),
        ("x" * 600_000, "application/json", "body is larger than"),
    ],
)
def test_hostile_bodies_get_400_with_a_reason(client, db, body, content_type, reason):
    response = client.post(
        "/webhooks/stripe/connect",
        data=body,
        headers={"Content-Type": content_type, "Stripe-Signature": se.sign(body)},
    )
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    assert _stored(db) == []


def test_non_utf8_bodies_are_refused(client, db):
    body = b'{"object": "event", "id": "\xff"}'
    response = client.post(
        "/webhooks/stripe/connect",
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"},
    )
    assert response.status_code == 400 and "UTF-8" in response.get_data(as_text=True)


def test_only_post_reaches_the_endpoints_and_unknown_paths_are_404(client, db):
    answer = client.get("/webhooks/stripe/connect")
    assert answer.status_code == 405 and answer.headers["Allow"] == "POST"
    assert client.post("/webhooks/stripe/elsewhere", data="{}").status_code == 404
    assert client.post("/webhooks/stripe/direct/abc", data="{}").status_code == 404
    assert _stored(db) == []


def test_a_content_length_that_is_no_number_is_refused(client, db):
    body = json.dumps(se.expired("cs_live_A", "acct_1"))
    response = client.post(
        "/webhooks/stripe/connect",
        data=body,
        environ_overrides={"CONTENT_LENGTH": "12abc"},
        headers={"Content-Type": "application/json", "Stripe-Signature": se.sign(body)},
    )
    assert response.status_code == 400 and "Content-Length" in response.get_data(as_text=True)
    assert _stored(db) == []


@pytest.mark.parametrize(
    "field, value",
    [
        ("id", "evt_" + "x" * 252),
        ("type", "x" * 101),
        ("account", "acct_" + "1" * 60),
        ("account", 12345),
    ],
)
def test_signed_fields_that_do_not_fit_their_columns_are_refused(client, db, field, value):
    event = se.expired("cs_live_A", "acct_1")
    event[field] = value
    response = se.post(client, event)
    assert response.status_code == 400 and repr(field) in response.get_data(as_text=True)
    assert _stored(db) == []


def test_other_pages_still_reach_flask(client):
    assert client.get("/login").status_code == 200


@pytest.mark.parametrize("merchant_id", [2**31 - 1, 2**31, 10**18 - 1])
def test_a_direct_endpoint_for_an_id_beyond_the_id_column_is_404(client, db, merchant_id):
    """Ids are PostgreSQL `integer`s: a larger one names no merchant (it once overflowed the
    column while the secret was looked up, a 500 before any signature check)."""
    body = json.dumps(se.expired("cs_live_A", "acct_1"))
    response = se.post(client, body, path=f"/webhooks/stripe/direct/{merchant_id}")
    assert response.status_code == 404
    assert "no direct-mode Stripe connection" in response.get_data(as_text=True)
    assert portal_db.MAX_ID == 2**31 - 1
    assert _stored(db) == []


@pytest.mark.parametrize(
    "change, named",
    [
        ({"id": None}, "id 'None'"),
        ({"livemode": "false"}, "livemode is not true or false"),
        ({"amount_total": 2**64}, "amount_total '18446744073709551616'"),
        ({"amount_total": "48.00"}, "amount_total '48.00'"),
        ({"customer": "cus_\x00x"}, "customer holding a NUL"),
        ({"locale": ["fr"]}, None),  # not a language: kept as none, not refused
        ({"customer_details": ["a list"]}, "customer_details is not an object"),
        ({"consent": "opt_in"}, "consent is not an object"),
        ({"consent": {"promotions": {"x": 1}}}, "consent_promotions of type dict"),
        ({"after_expiration": {"recovery": 7}}, "recovery is not an object"),
        ({"recovered_from": 12}, "recovered_from of type int"),
    ],
)
def test_a_signed_session_stripe_would_never_send_is_refused_by_name(client, db, change, named):
    """A signed event (a leaked or a merchant's own secret) whose session the mirror cannot
    keep is answered 400 with the field, instead of 200 and days of failing retries."""
    event = se.expired("cs_live_A", "acct_1")
    event["data"]["object"].update(change)
    response = se.post(client, event)
    if named is None:
        assert response.status_code == 200
        return
    assert response.status_code == 400 and named in response.text
    assert "malformed checkout.session" in response.text and _stored(db) == []
