"""A dashboard story seeded through webhooks for a merchant in its own time zone."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

import stripe_events as se
from factories import make_connected
from portal import db as portal_db
from portal.models import EmailSend, RecoveryCase, SendingSettings
from portal.services import events, shopper

ACCT = "acct_1DashboardMerchant01"
ZONE = "America/New_York"


def deliver(client, *sequence) -> None:
    for event in sequence:
        assert se.post(client, event).status_code == 200
    portal_db.session.commit()  # end any read: on SQLite it would hide the new events
    events.drain()


def merchant(db, account=ACCT, email="dash@example.com", zone=ZONE, holdout=0) -> int:
    owner = make_connected(account, email=email)
    db.add(SendingSettings(merchant_id=owner.merchant_id, timezone=zone, holdout_percent=holdout))
    db.commit()
    return owner.merchant_id


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def cases_of(db, merchant_id: int) -> dict[str, RecoveryCase]:
    db.commit()  # a fresh read: on SQLite an open transaction would not see later webhooks
    rows = db.scalars(select(RecoveryCase).where(RecoveryCase.merchant_id == merchant_id))
    return {case.session.session_id: case for case in rows}


def add_send(db, case: RecoveryCase, status: str, at: datetime, clicked: bool = False) -> None:
    db.add(
        EmailSend(
            merchant_id=case.merchant_id,
            case_id=case.id,
            step=0,
            status=status,
            to_address="shopper@example.com",
            message_id=f"<{case.id}@test>",
            attempts=1,
            created_at=at,
            sent_at=at if status == "sent" else None,
            clicked_at=at + timedelta(minutes=5) if clicked else None,
        )
    )
    if status == "sent":
        case.emailed_at = at
    if clicked:
        case.clicked_at = at + timedelta(minutes=5)


def seed_story(client, db, merchant_id: int, account: str, now: datetime, tag: str = "") -> None:
    """Carts in both periods through the real webhook pipeline: recoveries in two currencies,
    a late expiry, repeated events, delayed payments that succeed and fail; then the decisions,
    emails and unsubscribes the engine and the shopper would have left."""
    day = lambda n, h=0: now - timedelta(days=n, hours=h)  # noqa: E731
    sid = lambda name: f"cs_live_{tag}{name}"  # noqa: E731
    deliver_story_webhooks(client, account, day, sid)
    leave_story_decisions(db, merchant_id, day, sid, tag)


def deliver_story_webhooks(client, account: str, day, sid) -> None:
    """The expiries and completions, then the same events again, a repeat and payment results."""
    expiries = {sid(f"A{n}"): day(n, 1) for n in range(12)} | {
        sid(f"P{n}"): day(31 + n, 1) for n in range(5)
    }
    recovery = se.completed(sid("R3"), account, recovered_from=sid("A3"), created=ts(day(2)))
    deliver(
        client,
        recovery,  # the completion of A3's recovery arrives before A3's expiry
        *(se.expired(s, account, created=ts(at)) for s, at in expiries.items()),
        *story_completions(account, day, sid),
    )
    deliver(
        client,
        recovery,  # the same event again
        se.expired(sid("A0"), account, created=ts(expiries[sid("A0")])),  # a repeat, new id
        se.async_result(False, sid("R4"), account, recovered_from=sid("A4")),
        se.async_result(True, sid("R5"), account, recovered_from=sid("A5")),
    )


def story_completions(account: str, day, sid) -> list[dict]:
    """Recoveries in two currencies, one of the previous period, and two delayed payments."""
    return [
        se.completed(sid("R1"), account, recovered_from=sid("A1"), created=ts(day(0))),
        se.completed(
            sid("R2"),
            account,
            recovered_from=sid("A2"),
            amount=2500,
            currency="eur",
            created=ts(day(1)),
        ),  # fmt: skip
        se.completed(sid("RP"), account, recovered_from=sid("P1"), created=ts(day(30))),
        se.completed(
            sid("R4"),
            account,
            recovered_from=sid("A4"),
            payment_status="unpaid",
            created=ts(day(3)),
        ),  # fmt: skip
        se.completed(
            sid("R5"),
            account,
            recovered_from=sid("A5"),
            payment_status="unpaid",
            created=ts(day(3)),
        ),  # fmt: skip
    ]


def leave_story_decisions(db, merchant_id: int, day, sid, tag: str) -> None:
    """The holdout draw, the emails sent and clicked, and unsubscribes in and out of emails."""
    cases = cases_of(db, merchant_id)
    for n in range(8):
        cases[sid(f"A{n}")].holdout = n >= 6  # eligible: A0-A7; held out: A6, A7
    for name, status, clicked in (("A1", "sent", True), ("A2", "sent", False), ("A3", "sent", True),
                                  ("A4", "bounced", False), ("P0", "sent", True)):  # fmt: skip
        add_send(db, cases[sid(name)], status, cases[sid(name)].expired_at + timedelta(hours=1), clicked)  # fmt: skip
    db.commit()
    for n, days_ago in enumerate((1, 2, 40)):
        shopper.unsubscribe(merchant_id, f"u{n}{tag}@example.com", "one_click", day(days_ago))
    shopper.unsubscribe(merchant_id, f"csv{tag}@example.com", "csv", day(1))  # not from an email
    db.commit()
