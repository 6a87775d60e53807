"""Routing events to their merchant: unknown accounts, deauthorizations, poison and malformed events."""

from __future__ import annotations

import json

from datetime import timedelta

from sqlalchemy import select

import stripe_events as se
from factories import make_connected, make_direct
from portal.db import utcnow
from portal.models import (
    CheckoutSession,
    EventStatus,
    RecoveryCase,
    StripeAccount,
    StripeEvent,
    User,
)
from portal.services import events, webhooks
from event_processing_kit import ACCT, T0, deliver, state


def test_every_expired_session_gets_a_case_and_unknown_accounts_are_unrouted(client, db):
    make_connected(ACCT)
    deliver(
        client,
        [
            se.expired("cs_live_A", ACCT, email=None, consent=None),
            se.expired("cs_live_X", "acct_1NobodyOwnsThis"),
        ],
    )
    assert list(state(db)["cases"]) == ["cs_live_A"]
    statuses = {e.account_id: e.status for e in db.scalars(select(StripeEvent))}
    assert statuses == {ACCT: EventStatus.PROCESSED, "acct_1NobodyOwnsThis": EventStatus.UNROUTED}


def test_deauthorization_disconnects_but_not_after_a_later_reconnect(client, db):
    owner = make_connected(ACCT)
    deliver(client, [se.deauthorized(ACCT)])
    account = db.scalars(select(StripeAccount)).one()
    assert not account.is_connected
    account.disconnected_at, account.connected_at = None, account.connected_at.replace(year=2099)
    db.commit()
    deliver(client, [se.deauthorized(ACCT)])  # a late, older deauthorization
    db.expire_all()
    assert db.scalars(select(StripeAccount)).one().is_connected and owner


def test_a_session_of_another_merchant_is_never_touched(client, db):
    make_connected(ACCT, email="a@example.com")
    make_connected("acct_1Other", email="b@example.com")
    # The other merchant names the session first (a direct-mode merchant signs its own events,
    # and a session id is in the checkout's address), then claims a recovery of it.
    deliver(client, [se.expired("cs_live_A", "acct_1Other", created=T0 - 10)])
    deliver(client, [se.expired("cs_live_A", ACCT, created=T0)])
    deliver(
        client,
        [se.completed("cs_live_B", "acct_1Other", recovered_from="cs_live_A", created=T0 + 10)],
    )
    deliver(client, [se.completed("cs_live_A", "acct_1Other", created=T0 + 20)])
    db.expire_all()
    held = sorted(
        (m.merchant_id, m.session_id, m.status) for m in db.scalars(select(CheckoutSession))
    )
    owner_a = db.scalar(select(User.merchant_id).where(User.email == "a@example.com"))
    mine = db.scalars(
        select(CheckoutSession).where(
            CheckoutSession.merchant_id == owner_a, CheckoutSession.session_id == "cs_live_A"
        )
    ).one()
    assert mine.status == "expired" and len(held) == 3  # the other's two are its own
    case = db.scalars(select(RecoveryCase).where(RecoveryCase.merchant_id == owner_a)).one()
    assert case.session.id == mine.id and case.recovered_session_id is None


def test_a_poison_event_is_retried_then_failed_while_the_rest_go_through(
    app, client, db, monkeypatch
):
    make_connected(ACCT)
    poison = se.expired("cs_live_P", ACCT)
    del poison["data"]["object"]["id"]
    # The endpoint refuses it now (400); one stored before it did still meets the pipeline.
    assert se.post(client, poison).status_code == 400
    _stored_as_received(db, poison)
    deliver(client, [se.expired("cs_live_A", ACCT)])
    rows = {e.event_id: e for e in db.scalars(select(StripeEvent))}
    bad = rows[poison["id"]]
    assert (
        bad.status == EventStatus.PENDING
        and bad.attempts == 1
        and "malformed checkout.session: id" in bad.last_error
    )
    assert list(state(db)["cases"]) == ["cs_live_A"]
    for _ in range(len(events.RETRY_DELAYS)):
        events.drain(now=bad.next_attempt_at)
        db.refresh(bad)
    assert bad.status == EventStatus.FAILED
    runner = app.test_cli_runner()
    listed = runner.invoke(args=["events", "failed"])
    assert poison["id"] in listed.output and "1 failed event(s)." in listed.output
    replayed = runner.invoke(args=["events", "replay", "--all-failed"])
    assert "1 event(s) queued again" in replayed.output
    bad = db.scalars(select(StripeEvent).where(StripeEvent.event_id == poison["id"])).one()
    assert (bad.status, bad.attempts) == (EventStatus.PENDING, 0)
    assert runner.invoke(args=["events", "replay"]).exit_code == 2


def _stored_as_received(db, event: dict) -> None:
    """The event stored as the endpoint stores one, without its checks (an older portal's)."""
    webhooks.store(event, json.dumps(event), source="connect")
    db.commit()


def test_a_malformed_session_fails_with_a_message_naming_the_field(client, db):
    make_connected(ACCT)
    malformed = se.expired("cs_live_M", ACCT, amount_total="48.00", status="gone")
    refused = se.post(client, malformed)
    assert refused.status_code == 400
    assert "malformed checkout.session: status 'gone', amount_total '48.00'" in refused.text
    _stored_as_received(db, malformed)
    events.drain()
    event = db.scalars(select(StripeEvent)).one()
    assert event.status == EventStatus.PENDING and event.attempts == 1
    assert "malformed checkout.session: status 'gone', amount_total '48.00'" in event.last_error
    assert state(db)["mirrors"] == {}


def test_a_direct_endpoint_hearing_of_some_apps_removal_stays_connected(app, client, db):
    """A direct connection is the merchant's own key, not an OAuth grant: a self-hoster's
    endpoint that listens to every event may hear of another Connect app being removed."""
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    event = se.deauthorized("acct_1Direct")
    del event["account"]  # direct endpoints get no `account`
    path = f"/webhooks/stripe/direct/{owner.merchant_id}"
    assert se.post(client, event, path=path, secret="whsec_merchant_own").status_code == 200
    events.drain()
    db.expire_all()
    assert db.scalars(select(StripeAccount)).one().is_connected
    assert db.scalars(select(StripeEvent)).one().status == EventStatus.PROCESSED


def test_removing_an_old_connect_grant_leaves_a_merchant_on_its_own_key(app, client, db):
    """A merchant that moved from Connect to its own key, then removes the old grant in
    Stripe: the platform hears of it, but the merchant no longer uses it."""
    make_direct(app.config["ENCRYPTION_KEY"])
    deliver(client, [se.deauthorized("acct_1Direct")])
    db.expire_all()
    assert db.scalars(select(StripeAccount)).one().is_connected


def test_handled_events_are_kept_thirty_days_and_the_rest_until_dealt_with(app, db):
    """A raw body holds the shopper's address and name: kept while it serves (a replay, a
    repeat's spotting), then gone; what is pending or failed waits for the operator."""
    old = utcnow() - events.RETENTION - timedelta(hours=1)
    kept_longer = [EventStatus.PENDING, EventStatus.FAILED]
    for n, status in enumerate([*events.DONE_WITH, *kept_longer]):
        for when, tag in ((old, "old"), (utcnow(), "new")):
            db.add(
                StripeEvent(
                    event_id=f"evt_{tag}_{n}", source="connect", type="checkout.session.expired",
                    livemode=True, created_at=when, received_at=when, payload="{}", status=status,
                )
            )  # fmt: skip
    db.commit()
    assert events.prune(utcnow()) == 3
    db.commit()
    left = set(db.scalars(select(StripeEvent.event_id)))
    assert left == {f"evt_new_{n}" for n in range(5)} | {"evt_old_3", "evt_old_4"}
