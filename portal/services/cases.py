"""Recovery cases: one per expired session, and the credit for its paid recovery, computed
from the mirror so that events may arrive in any order."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from portal import db
from portal.db import utcnow
from portal.models import CheckoutSession, EmailSend, RecoveryCase


def sync(mirrors: list[CheckoutSession]) -> None:
    """Open a case for every expired session and refresh the credit of every case whose
    session or recovering session changed."""
    db.session.flush()  # mirrors need their ids
    expired = [m for m in mirrors if m.status == "expired"]
    cases = _ensure_cases(expired)
    originals = {m.session_id for m in expired} | {m.recovered_from for m in mirrors if m.recovered_from}
    if not originals:
        return
    rows = db.session.execute(
        select(RecoveryCase, CheckoutSession).join(RecoveryCase.session)
        .where(CheckoutSession.session_id.in_(originals))).all()
    cases.update({session.session_id: case for case, session in rows})
    recovering = db.session.scalars(select(CheckoutSession).where(
        CheckoutSession.recovered_from.in_(list(cases)))).all()
    for session_id, case in cases.items():
        credit(case, [s for s in recovering if s.recovered_from == session_id])


def _ensure_cases(expired: list[CheckoutSession]) -> dict[str, RecoveryCase]:
    if not expired:
        return {}
    existing = {c.checkout_session_id: c for c in db.session.scalars(
        select(RecoveryCase).where(RecoveryCase.checkout_session_id.in_([m.id for m in expired])))}
    cases = {}
    for mirror in expired:
        case = existing.get(mirror.id)
        if case is None:
            case = RecoveryCase(merchant_id=mirror.merchant_id, checkout_session_id=mirror.id,
                                status="new", next_action_at=utcnow())
            db.session.add(case)
        cases[mirror.session_id] = case
    return cases


def credit(case: RecoveryCase, recovering: list[CheckoutSession]) -> None:
    """Credit the earliest paid recovery of the case's own merchant; clear the credit when none
    is paid (a delayed payment that failed takes the credit back)."""
    paid = sorted((s for s in recovering if s.merchant_id == case.merchant_id and s.is_paid),
                  key=lambda s: s.completed_at or s.state_at)
    if not paid:
        case.recovered_session_id = case.recovered_amount = case.recovered_currency = None
        case.recovered_at = case.recovered_step = None
        return
    winner = paid[0]
    case.status, case.reason, case.next_action_at = "done", "recovered", None  # the sequence stops
    case.recovered_session_id, case.recovered_amount = winner.session_id, winner.amount_total
    case.recovered_currency, case.recovered_at = winner.currency, winner.completed_at or winner.state_at
    case.recovered_step = db.session.scalar(select(func.max(EmailSend.step)).where(
        EmailSend.case_id == case.id, EmailSend.status.in_(("sent", "unknown")),
        # Stripe's completion time has whole seconds: an email of the same second preceded it.
        EmailSend.created_at < case.recovered_at + timedelta(seconds=1))) if case.id else None
