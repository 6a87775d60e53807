"""Past carts seeded for dry runs, and running one."""

from __future__ import annotations

from datetime import timedelta

from portal import jobs
from portal.db import utcnow
from portal.models import (
    CheckoutSession,
    ConsentChange,
    Contact,
    DryRun,
    DryRunStatus,
    EmailSend,
    RecoveryCase,
)
from portal.services import dry_run

NOW = utcnow()
T0 = NOW - timedelta(days=10)  # every step of every cart below is due before now
_seq = iter(range(1, 10**6))


def cart(merchant_id, email, hours=0.0, consent="opt_in", **extra):
    """An expired live cart (recovery link for 30 days) and its case, `hours` after T0."""
    n = next(_seq)
    created = T0 + timedelta(hours=hours)
    expired = created + timedelta(minutes=30)
    values = dict(
        merchant_id=merchant_id,
        session_id=f"cs_live_dry{n}",
        livemode=True,
        created_at=created,
        expired_at=expired,
        status="expired",
        payment_status="unpaid",
        email=email,
        consent_promotions=consent,
        recovery_url=f"https://pay.example/r/{n}",
        recovery_expires_at=expired + timedelta(days=30),
        state_at=expired,
    )
    values.update({k: v for k, v in extra.items() if hasattr(CheckoutSession, k)})
    session = CheckoutSession(**values)
    from portal import db

    db.session.add(session)
    db.session.flush()
    case = RecoveryCase(
        merchant_id=merchant_id,
        checkout_session_id=session.id,
        created_at=expired,
        expired_at=expired,
        status="skipped",
        reason=extra.get("reason", "merchant_disabled"),
        emailed_at=extra.get("emailed_at"),
    )
    db.session.add(case)
    db.session.commit()
    return case


def seed(db, merchant_id) -> dict:
    """Carts with one reason each to be, or not be, emailed; the expected replay of each under
    the default candidate (one email an hour after expiry, a 24-hour cap, no holdout)."""
    fresh = [cart(merchant_id, f"shopper{i}@example.com", hours=i) for i in range(6)]
    cart(merchant_id, "optout@example.com", hours=7, consent="opt_out")
    cart(merchant_id, "noconsent@example.com", hours=8, consent=None)
    cart(merchant_id, "gone@example.com", hours=9)
    unsubscribe(db, merchant_id, "gone@example.com", T0 - timedelta(days=1))
    cart(merchant_id, "test@example.com", hours=10, session_id="cs_test_dry", livemode=False)
    cart(merchant_id, "nolink@example.com", hours=11, recovery_url=None)
    cart(merchant_id, "twice@example.com", hours=12)  # emailed
    cart(merchant_id, "twice@example.com", hours=14)  # 2 h later: the cap stops it
    cart(merchant_id, "again@example.com", hours=20)  # a later checkout follows it
    cart(merchant_id, "again@example.com", hours=21)  # emailed
    cart(merchant_id, "old@example.com", hours=-24 * 40)  # before the period: not counted
    # What actually happened: two emailed (one with a follow-up), the rest skipped.
    emailed(db, fresh[0], steps=2)
    emailed(db, fresh[1], steps=1)
    return {
        "emailed": 8,
        "no_consent": 2,
        "unsubscribed": 1,
        "test_mode": 1,
        "no_recovery_url": 1,
        "frequency_cap": 1,
        "later_session": 1,
    }


def unsubscribe(db, merchant_id, email, when) -> None:
    """The address unsubscribed at `when`: its ledger entry and its current status."""
    change = dict(merchant_id=merchant_id, email=email, status="unsubscribed")
    db.add(Contact(**change, updated_at=when, source="unsubscribe_link"))
    db.add(ConsentChange(**change, source="unsubscribe_link", source_ref="u1", occurred_at=when))
    db.commit()


def emailed(db, case, steps: int) -> None:
    """The case really was emailed, `steps` emails in all."""
    case.emailed_at, case.reason, case.status = case.expired_at + timedelta(hours=1), None, "done"
    for step in range(steps):
        db.add(
            EmailSend(
                merchant_id=case.merchant_id,
                case_id=case.id,
                step=step,
                to_address="x@example.com",
                status="sent",
                message_id=f"<{case.id}.{step}@example.com>",
                created_at=T0,
            )
        )
    db.commit()


def run(merchant, first_day=None, **candidate) -> DryRun:
    """A dry run started and replayed to the end through the job."""
    from portal import db

    first_day = first_day or (T0 - timedelta(days=2)).date()
    base = {"steps": (60,), "frequency_cap_hours": 24, "test_mode": "record", "as_enabled": True}
    started = dry_run.start(
        merchant, None, dry_run.Candidate(**{**base, **candidate}), first_day, NOW.date()
    )
    db.session.commit()
    assert jobs.run_dry_run(started.id) == DryRunStatus.DONE
    return db.session.get(DryRun, started.id)
