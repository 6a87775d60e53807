"""Crediting a recovered payment to the step emailed last, and a case's send history."""

from __future__ import annotations

from sqlalchemy import select

import stripe_events as se
from factories import make_connected
from portal.models import RecoveryCase, StripeEvent
from portal.services import events
from event_processing_kit import ACCT, T0, deliver


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


def _two_merchants_cases_with_emails(client, db, at) -> dict[str, RecoveryCase]:
    """Carts A and B of one merchant and C of another; A and C emailed the same address."""
    from portal.models import EmailSend

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
    return cases


def test_a_cases_send_history_reads_its_own_steps_and_its_merchants_emails_to_the_address(
    client, db
):
    """What the frequency cap and the step sequence read: a case's own steps, and the latest
    email its merchant sent the same address for another cart; another merchant's never."""
    from datetime import datetime, timezone

    from portal.services import case_context

    at = lambda seconds: datetime.fromtimestamp(T0 + seconds, timezone.utc)  # noqa: E731
    cases = _two_merchants_cases_with_emails(client, db, at)
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
