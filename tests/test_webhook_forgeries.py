"""Forged deliveries to a direct endpoint (anyone may POST to it): a request that Stripe's own
events do not bear out raises no alarm on the Connect page, and a forgery, or a flood of them,
cannot hide a real refusal: events Stripe sent that never arrived are counted in the warning. Stripe is the sandbox, whose key for the account can say which
events it sent; the refusal check is a worker's job, run here."""

from __future__ import annotations

from datetime import timedelta

import pytest

import stripe_events as se
from portal.extensions import rq
from portal.services import webhook_health
from refusal_kit import (
    OWN_SECRET,
    account_of,
    an_event_stripe_sent,
    direct_on_the_sandbox,
    endpoint,
    expired_event,
    refused,
)

NEVER_SENT = "evt_1NeverSentByStripe"


@pytest.fixture
def sandbox(sandbox_server, redis_conn, monkeypatch):
    monkeypatch.setattr(rq, "connection", redis_conn)
    return sandbox_server


def _forged(event_id: str = NEVER_SENT) -> dict:
    forged = expired_event("cs_live_Forged")
    forged["id"] = event_id
    return forged


def test_a_forged_delivery_stripe_never_sent_raises_no_alarm(app, client, db, redis_conn, sandbox):
    """Only an event Stripe sent is kept, and a forgery does not hold back the check of a real
    refusal that follows it within the minute."""
    owner, own = direct_on_the_sandbox(app, sandbox)
    refused(app, client, redis_conn, owner, _forged())
    assert account_of(db, owner).webhook_refused_at is None  # Stripe: no such event
    real = expired_event("cs_live_Real")
    real["id"] = an_event_stripe_sent(sandbox, own)
    refused(app, client, redis_conn, owner, real)
    assert account_of(db, owner).webhook_refused_at is not None


def test_a_forgery_naming_an_event_that_arrived_raises_no_alarm(
    app, client, db, redis_conn, sandbox
):
    """Stripe does hold the event it names, but it got here, signed right: nothing was lost."""
    owner, own = direct_on_the_sandbox(app, sandbox)
    delivered = expired_event("cs_live_Delivered")
    delivered["id"] = an_event_stripe_sent(sandbox, own)
    assert se.post(client, delivered, path=endpoint(owner), secret=OWN_SECRET).status_code == 200
    refused(app, client, redis_conn, owner, _forged(delivered["id"]))
    assert account_of(db, owner).webhook_refused_at is None


def test_a_forgery_brings_to_light_an_event_stripe_sent_that_never_arrived(
    app, client, db, redis_conn, sandbox, monkeypatch
):
    """A flood of forgeries takes the check's turn each time it is free: each check then looks
    at what Stripe sent lately, so a real delivery refused meanwhile still comes to light."""
    owner, own = direct_on_the_sandbox(app, sandbox)
    an_event_stripe_sent(sandbox, own)  # its delivery was refused while the check was taken
    # Its delivery would be seconds old by the next check: the sandbox made it just now.
    monkeypatch.setattr(webhook_health, "SETTLE", timedelta(0))
    refused(app, client, redis_conn, owner, _forged())
    account = account_of(db, owner)
    assert account.webhook_refused_at is not None
    assert account.webhook_refused_reason == (
        "its signature does not match the signing secret saved here; and 1 event Stripe sent "
        "in the hour before never arrived"
    )


def test_a_flood_of_forgeries_frees_the_check_only_so_often(app, redis_conn):
    slot = webhook_health.REFUSAL_SLOT.format(7)
    for _ in range(webhook_health.FORGED_FREES_PER_HOUR):
        assert webhook_health.take_refusal_slot(redis_conn, 7)
        assert not webhook_health.take_refusal_slot(redis_conn, 7)
        webhook_health.free_refusal_slot(redis_conn, 7)
    assert webhook_health.take_refusal_slot(redis_conn, 7)
    webhook_health.free_refusal_slot(redis_conn, 7)  # one too many this hour: kept a minute
    assert not webhook_health.take_refusal_slot(redis_conn, 7)
    assert 0 < redis_conn.ttl(slot) <= 60
    assert 0 < redis_conn.ttl(webhook_health.FORGED_FREES.format(7)) <= 3600  # counted an hour
