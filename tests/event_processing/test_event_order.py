"""Applying events: the same final state for any order, any repetition, any batching."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

import stripe_events as se
from factories import make_connected
from portal.models import CheckoutSession
from portal.services import events
from event_processing_kit import ACCT, T0, deliver, state


def a_then_recovered_b():
    return [
        se.expired("cs_live_A", ACCT, created=T0),
        se.completed("cs_live_B", ACCT, recovered_from="cs_live_A", amount=4800, created=T0 + 600),
    ]


@pytest.mark.parametrize("order", list(itertools.permutations(range(2))))
@pytest.mark.parametrize("one_batch", [True, False])
def test_completed_b_before_or_after_expired_a_credits_a_once(client, db, order, one_batch):
    make_connected(ACCT)
    sequence = a_then_recovered_b()
    deliver(client, [sequence[i] for i in order], one_batch)
    assert state(db) == {
        "mirrors": {
            "cs_live_A": ("expired", "unpaid", None, "shopper@example.com", None),
            "cs_live_B": ("complete", "paid", None, "shopper@example.com", "cs_live_A"),
        },
        "cases": {"cs_live_A": ("cs_live_B", 4800, "usd")},
        "contacts": {"shopper@example.com": "subscribed"},
        "ledger": [
            ("shopper@example.com", "subscribed", "cs_live_A"),
            ("shopper@example.com", "subscribed", "cs_live_B"),
        ],
    }


def test_the_same_events_three_times_give_the_same_state(client, db):
    make_connected(ACCT)
    sequence = a_then_recovered_b()
    deliver(client, sequence)
    once = state(db)
    for _ in range(2):
        deliver(client, sequence)
    assert state(db) == once
    # Replaying already-applied events (as an operator might) changes nothing either.
    assert events.replay([e["id"] for e in sequence]) == 2
    db.commit()
    events.drain()
    assert state(db) == once


@pytest.mark.parametrize("order", list(itertools.permutations(range(3))))
def test_delayed_payment_is_credited_only_once_it_succeeds(client, db, order):
    make_connected(ACCT)
    sequence = [
        se.expired("cs_live_A", ACCT, created=T0),
        se.completed(
            "cs_live_B",
            ACCT,
            recovered_from="cs_live_A",
            payment_status="unpaid",
            created=T0 + 600,
        ),
        se.async_result(True, "cs_live_B", ACCT, recovered_from="cs_live_A", created=T0 + 600),
    ]
    deliver(client, [sequence[i] for i in order], one_batch=False)
    assert state(db)["cases"] == {"cs_live_A": ("cs_live_B", 4800, "usd")}


def test_unpaid_completion_is_not_credited_and_a_failed_payment_takes_credit_back(client, db):
    make_connected(ACCT)
    deliver(
        client,
        [
            se.expired("cs_live_A", ACCT, created=T0),
            se.completed(
                "cs_live_B",
                ACCT,
                recovered_from="cs_live_A",
                payment_status="unpaid",
                created=T0 + 60,
            ),
        ],
    )
    assert state(db)["cases"] == {"cs_live_A": (None, None, None)}
    deliver(
        client,
        [se.async_result(False, "cs_live_B", ACCT, recovered_from="cs_live_A", created=T0 + 120)],
    )
    assert state(db)["cases"] == {"cs_live_A": (None, None, None)}
    assert state(db)["mirrors"]["cs_live_B"][2] == "failed"


def test_latest_consent_wins_whatever_order_it_arrives_in(client, db):
    make_connected(ACCT)
    newer_opt_out = se.completed(
        "cs_live_C",
        ACCT,
        created=T0 + 3600,
        consent={"promotions": "opt_out", "terms_of_service": None},
    )
    older_opt_in = se.expired("cs_live_A", ACCT, created=T0)
    deliver(client, [newer_opt_out, older_opt_in])
    assert state(db)["contacts"] == {"shopper@example.com": "unsubscribed"}
    assert len(state(db)["ledger"]) == 2  # both changes stay in the ledger


def test_paying_through_the_recovery_link_without_the_box_keeps_the_subscription(client, db):
    # The recovery checkout asks again and shoppers rarely tick twice: an unticked box on the
    # session that recovers a consented cart is no withdrawal of that consent.
    make_connected(ACCT)
    no_tick = {"promotions": "opt_out", "terms_of_service": None}
    recovered = se.completed(
        "cs_live_B", ACCT, recovered_from="cs_live_A", created=T0 + 600, consent=no_tick
    )
    deliver(client, [se.expired("cs_live_A", ACCT, created=T0), recovered])
    assert state(db)["contacts"] == {"shopper@example.com": "subscribed"}
    # A later ordinary checkout left unticked still counts as the shopper's latest answer.
    deliver(client, [se.completed("cs_live_C", ACCT, created=T0 + 7200, consent=no_tick)])
    assert state(db)["contacts"] == {"shopper@example.com": "unsubscribed"}


@pytest.mark.parametrize("country, kept", [("de", "DE"), ("Germany", None), (49, None)])
def test_the_billing_country_is_kept_for_quiet_hours(client, db, country, kept):
    make_connected(ACCT)
    event = se.expired("cs_live_A", ACCT)
    details = event["data"]["object"]["customer_details"]
    details["address"] = {**(details.get("address") or {}), "country": country}
    deliver(client, [event])
    assert db.scalars(select(CheckoutSession.country)).one() == kept


def test_a_test_mode_checkout_never_changes_the_subscription_list(client, db):
    make_connected(ACCT)
    deliver(client, [se.expired("cs_live_A", ACCT, created=T0)])
    test_mode_opt_out = se.completed(
        "cs_test_B",
        ACCT,
        created=T0 + 3600,
        livemode=False,
        consent={"promotions": "opt_out", "terms_of_service": None},
    )
    deliver(
        client, [test_mode_opt_out, se.expired("cs_test_C", ACCT, livemode=False, email="t@x.io")]
    )
    assert state(db)["contacts"] == {"shopper@example.com": "subscribed"}
    assert len(state(db)["ledger"]) == 1


def test_a_checkout_address_the_csv_would_refuse_never_enters_the_list(client, db):
    make_connected(ACCT)
    deliver(client, [se.expired("cs_live_bad", ACCT, email="bad@@example", created=T0)])
    deliver(client, [se.expired("cs_live_good", ACCT, email="ok@example.com", created=T0)])
    assert state(db)["contacts"] == {"ok@example.com": "subscribed"}
