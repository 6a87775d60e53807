"""The counts PostgreSQL keeps per quarter hour (triggers, folding, rebuilding) always equal a
count over the rows, whatever writes them: the ORM, bulk statements, updates that move a case
from one quarter hour to another, a credit taken back, emails changing status. PostgreSQL
only: SQLite keeps no counts (the dashboard counts rows there)."""

from __future__ import annotations

import random
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select, update

from factories import make_owner
from portal.models import CheckoutSession, EmailSend, RecoveryCase
from portal.models.stats import COUNTS
from portal.services import payments, rollups

T0 = datetime(2026, 10, 1, tzinfo=timezone.utc)
SINCE, UNTIL = T0 - timedelta(days=2), T0 + timedelta(days=40)


@pytest.fixture(autouse=True)
def _postgres_only(app):
    with app.app_context():
        if not rollups.kept():
            pytest.skip("only PostgreSQL keeps counts")


def _independent(db, merchant_id: int) -> Counter:
    """Every count, by (UTC day, currency), from the rows themselves."""
    found = Counter()
    live = RecoveryCase.livemode.is_(True)
    for c in db.scalars(select(RecoveryCase).where(RecoveryCase.merchant_id == merchant_id, live)):
        money = c.recovered_currency or "" if c.recovered_at else ""
        day = c.expired_at.date()
        facts = {
            "expired": 1,
            "eligible": c.holdout is not None,
            "emailed": c.emailed_at is not None,
            "clicked": c.clicked_at is not None,
            "recovered": c.recovered_at is not None,
            "held_out": c.holdout is True,
            "held_out_bought": c.holdout is True and c.purchased_at is not None,
            "emailed_group": c.holdout is False,
            "emailed_group_bought": c.holdout is False and c.purchased_at is not None,
            "revenue": (c.recovered_amount or 0) if c.recovered_at else 0,
        }
        for name, value in facts.items():
            found[(day, money, name)] += int(value)
        if c.recovered_at:
            found[(c.recovered_at.date(), c.recovered_currency, "paid")] += 1
            found[(c.recovered_at.date(), c.recovered_currency, "paid_amount")] += (
                c.recovered_amount or 0
            )
    sends = select(EmailSend).join(RecoveryCase, RecoveryCase.id == EmailSend.case_id)
    for e in db.scalars(sends.where(EmailSend.merchant_id == merchant_id, live)):
        day = e.created_at.date()
        found[(day, "", "mail_sent")] += e.status == "sent"
        found[(day, "", "mail_clicked")] += e.clicked_at is not None
        found[(day, "", "mail_bounced")] += e.status == "bounced"
    return +found


def _kept(merchant_id: int) -> Counter:
    found = Counter()
    for row in rollups.by_day(merchant_id, SINCE, UNTIL, "UTC"):
        for name in COUNTS:
            found[(row["day"], row["currency"], name)] += int(row[name])
    return +found


def _seed(db, merchant_id: int, rng: random.Random, n: int = 120) -> list[RecoveryCase]:
    cases = []
    for i in range(n):
        expired = T0 + timedelta(minutes=rng.randrange(0, 30 * 24 * 60))
        s = CheckoutSession(
            merchant_id=merchant_id,
            session_id=f"cs_test_{merchant_id}_{i}",
            livemode=i % 10 != 0,
            created_at=expired - timedelta(hours=1),
            status="expired",
            payment_status="unpaid",
            state_at=expired,
        )
        db.add(s)
        db.flush()
        case = RecoveryCase(
            merchant_id=merchant_id,
            checkout_session_id=s.id,
            expired_at=expired,
            livemode=i % 10 != 0,  # test-mode carts stay out of the counts
        )
        db.add(case)
        cases.append(case)
    db.flush()
    return cases


def _churn(db, cases: list[RecoveryCase], rng: random.Random) -> None:
    """Random changes of every counted fact, some made twice, some undone."""
    for case in cases:
        roll = rng.random()
        case.holdout = None if roll < 0.3 else roll < 0.4
        if rng.random() < 0.6:
            sent = case.expired_at + timedelta(hours=1)
            case.emailed_at = sent
            send = EmailSend(
                merchant_id=case.merchant_id,
                case_id=case.id,
                step=db.scalar(select(func.count()).where(EmailSend.case_id == case.id)),
                to_address="s@example.com",
                message_id=f"<{case.id}@t>",
                status="claimed",
                created_at=sent,
            )
            db.add(send)
            db.flush()
            send.status = rng.choice(["sent", "sent", "bounced", "deferred"])
            if send.status == "sent" and rng.random() < 0.5:
                send.clicked_at = case.clicked_at = sent + timedelta(hours=2)
        if rng.random() < 0.3:
            case.recovered_at = case.expired_at + timedelta(days=rng.randrange(0, 5))
            case.recovered_amount = rng.randrange(100, 10000)
            case.recovered_currency = rng.choice(["usd", "eur"])
            case.purchased_at = case.recovered_at
        db.flush()
        if case.recovered_at and rng.random() < 0.2:  # a failed delayed payment takes it back
            case.recovered_at = case.recovered_amount = case.recovered_currency = None
        if rng.random() < 0.1:  # a late correction moves the case to another quarter hour
            case.expired_at += timedelta(hours=rng.randrange(1, 48))
        db.flush()


def test_kept_counts_equal_the_rows_through_every_change_fold_and_rebuild(db):
    rng = random.Random(18)
    merchant_id = make_owner(email="a@example.com").merchant_id
    other = make_owner(email="b@example.com").merchant_id
    cases = _seed(db, merchant_id, rng)
    _churn(db, cases, rng)
    _churn(db, _seed(db, other, rng, 30), rng)
    db.execute(  # a bulk statement, as the engine's own sweeps write
        update(EmailSend)
        .where(EmailSend.merchant_id == merchant_id, EmailSend.status == "deferred")
        .values(status="sent")
    )
    db.commit()
    expected = _independent(db, merchant_id)
    assert expected[(cases[0].expired_at.date(), "", "expired")] >= 1
    assert _kept(merchant_id) == expected
    assert rollups.fold() > 0
    db.commit()
    assert _kept(merchant_id) == expected  # folding changes no sum
    _churn(db, cases[:40], rng)  # changes after a fold land in new deltas
    db.commit()
    expected = _independent(db, merchant_id)
    assert _kept(merchant_id) == expected
    rollups.rebuild()
    db.commit()
    assert _kept(merchant_id) == expected
    assert _kept(other) == _independent(db, other)


def test_payment_totals_from_kept_counts_match_the_rows_at_any_boundary(db):
    rng = random.Random(7)
    merchant_id = make_owner(email="c@example.com").merchant_id
    _churn(db, _seed(db, merchant_id, rng, 80), rng)
    db.commit()
    rollups.fold()
    db.commit()
    paid = list(
        db.scalars(
            select(RecoveryCase).where(
                RecoveryCase.recovered_at.is_not(None), RecoveryCase.livemode.is_(True)
            )
        )
    )
    for since in (None, T0 + timedelta(days=9, minutes=7, seconds=3), T0 + timedelta(days=20)):
        expected = Counter()
        for c in paid:
            if since is None or c.recovered_at >= since:
                expected[(c.recovered_currency, "n")] += 1
                expected[(c.recovered_currency, "amount")] += c.recovered_amount
        got = payments.totals(merchant_id, since)
        assert {(k, "n"): v[0] for k, v in got.items()} | {
            (k, "amount"): v[1] for k, v in got.items()
        } == dict(expected)
