"""Applying events: the same final state for any order, any repetition, any batching."""

from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

import stripe_events as se
from factories import make_connected, make_direct
from portal.extensions import rq
from portal.models import (
    CheckoutSession,
    ConsentChange,
    Contact,
    EventStatus,
    RecoveryCase,
    StripeAccount,
    StripeEvent,
    User,
)
from portal.services import events

ACCT = "acct_1ExampleMerchant01"
T0 = 1_790_000_000


@pytest.fixture(autouse=True)
def _setup(redis_conn, monkeypatch):
    monkeypatch.setattr(rq, "connection", redis_conn)


def deliver(client, sequence, one_batch: bool = True) -> None:
    """Post each event like Stripe, applying them together or one by one."""
    for event in sequence:
        assert se.post(client, event).status_code == 200
        if not one_batch:
            events.drain()
    events.drain()


def state(db) -> dict:
    """Everything the pipeline derives, in a comparable form."""
    db.expire_all()
    mirrors = {
        m.session_id: (m.status, m.payment_status, m.async_result, m.email, m.recovered_from)
        for m in db.scalars(select(CheckoutSession))
    }
    cases = {
        c.session.session_id: (c.recovered_session_id, c.recovered_amount, c.recovered_currency)
        for c in db.scalars(select(RecoveryCase))
    }
    contacts = {c.email: c.status for c in db.scalars(select(Contact))}
    ledger = sorted((c.email, c.status, c.source_ref) for c in db.scalars(select(ConsentChange)))
    db.rollback()  # end the read: on SQLite an open transaction would not see later webhooks
    return {"mirrors": mirrors, "cases": cases, "contacts": contacts, "ledger": ledger}


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
    deliver(client, [poison, se.expired("cs_live_A", ACCT)])
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


def test_a_malformed_session_fails_with_a_message_naming_the_field(client, db):
    make_connected(ACCT)
    deliver(client, [se.expired("cs_live_M", ACCT, amount_total="48.00", status="gone")])
    event = db.scalars(select(StripeEvent)).one()
    assert event.status == EventStatus.PENDING and event.attempts == 1
    assert "malformed checkout.session: status 'gone', amount_total '48.00'" in event.last_error
    assert state(db)["mirrors"] == {}


def test_the_credit_names_the_last_step_emailed_by_the_second_of_payment(client, db):
    """Sends that may have reached the shopper (sent, unknown) up to the payment's second count;
    a later one, or one that failed, does not."""
    from datetime import datetime, timezone

    from portal.models import EmailSend

    make_connected(ACCT)
    deliver(client, [se.expired("cs_live_A", ACCT, created=T0)])
    case = db.scalars(select(RecoveryCase)).one()
    at = lambda seconds: datetime.fromtimestamp(T0 + seconds, timezone.utc)  # noqa: E731
    for step, status, seconds in ((0, "sent", 100), (1, "unknown", 600), (2, "failed", 300)):
        db.add(
            EmailSend(
                merchant_id=case.merchant_id,
                case_id=case.id,
                step=step,
                status=status,
                to_address="shopper@example.com",
                message_id=f"<{step}@test>",
                attempts=1,
                created_at=at(seconds),
            )
        )
    db.commit()
    deliver(
        client, [se.completed("cs_live_B", ACCT, recovered_from="cs_live_A", created=T0 + 600)]
    )
    db.expire_all()
    assert (case.recovered_session_id, case.recovered_step) == ("cs_live_B", 1)
    db.rollback()

    db.query(EmailSend).filter_by(step=1).update({"created_at": at(601)})
    db.commit()
    assert events.replay([e.event_id for e in db.scalars(select(StripeEvent))]) == 2
    db.commit()
    events.drain()
    db.expire_all()
    assert (case.recovered_session_id, case.recovered_step) == ("cs_live_B", 0)


def test_a_cases_send_history_reads_its_own_steps_and_its_merchants_emails_to_the_address(
    client, db
):
    """What the frequency cap and the step sequence read: a case's own steps, and the latest
    email its merchant sent the same address for another cart; another merchant's never."""
    from datetime import datetime, timezone

    from portal.models import EmailSend
    from portal.services import case_context

    make_connected(ACCT)
    make_connected("acct_1OtherMerchant0002")
    deliver(
        client,
        [
            se.expired("cs_live_A", ACCT, created=T0),
            se.expired("cs_live_B", ACCT, created=T0),
            se.expired("cs_live_C", "acct_1OtherMerchant0002", created=T0),
        ],
    )
    cases = {c.session.session_id: c for c in db.scalars(select(RecoveryCase))}
    at = lambda seconds: datetime.fromtimestamp(T0 + seconds, timezone.utc)  # noqa: E731
    for session_id, seconds in (("cs_live_A", 100), ("cs_live_C", 500)):
        case = cases[session_id]
        db.add(
            EmailSend(
                merchant_id=case.merchant_id,
                case_id=case.id,
                step=0,
                status="sent",
                to_address="shopper@example.com",
                message_id=f"<{session_id}@test>",
                attempts=1,
                created_at=at(seconds),
            )
        )
    db.commit()
    history = {
        session_id: case_context.facts(case_context.load(case.id))
        for session_id, case in cases.items()
    }
    seen = {s: (f.steps_done, f.last_other_email_at) for s, f in history.items()}
    assert seen == {
        "cs_live_A": (frozenset({0}), None),
        "cs_live_B": (frozenset(), at(100)),
        "cs_live_C": (frozenset({0}), None),
    }


def test_a_checkout_address_the_csv_would_refuse_never_enters_the_list(client, db):
    make_connected(ACCT)
    deliver(client, [se.expired("cs_live_bad", ACCT, email="bad@@example", created=T0)])
    deliver(client, [se.expired("cs_live_good", ACCT, email="ok@example.com", created=T0)])
    assert state(db)["contacts"] == {"ok@example.com": "subscribed"}


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
