"""Recovery cases: one per expired session, and the credit for its paid recovery, computed
from the mirror so that events may arrive in any order."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import insert, select, tuple_

from portal import db
from portal.db import utcnow
from portal.models import (
    CaseStatus,
    CheckoutSession,
    EmailSend,
    RecoveryCase,
    SendStatus,
    SessionStatus,
)
from portal.services import purchases
from portal.services.rules import Reason


def sync(mirrors: list[CheckoutSession]) -> None:
    """Open a case for every expired session and refresh the credit of every case whose
    session or recovering session changed."""
    db.session.flush()  # mirrors need their ids
    expired = [m for m in mirrors if m.status == SessionStatus.EXPIRED]
    _open_missing_cases(expired)
    _credit_recoveries(expired, mirrors)
    purchases.refresh(mirrors)


def _credit_recoveries(expired: list[CheckoutSession], mirrors: list[CheckoutSession]) -> None:
    """Refresh the credit of each case whose session, or one of whose recoveries, changed. A
    session is the merchant's own: ids are unique per merchant only."""
    originals = {(m.merchant_id, m.session_id) for m in expired} | {
        (m.merchant_id, m.recovered_from) for m in mirrors if m.recovered_from
    }
    if not originals:
        return
    rows = db.session.execute(
        select(RecoveryCase, CheckoutSession)
        .join(RecoveryCase.session)
        .where(tuple_(CheckoutSession.merchant_id, CheckoutSession.session_id).in_(originals))
    ).all()
    cases = {(s.merchant_id, s.session_id): case for case, s in rows}
    recovering = defaultdict(list)
    for session in db.session.scalars(
        select(CheckoutSession).where(
            tuple_(CheckoutSession.merchant_id, CheckoutSession.recovered_from).in_(cases)
        )
    ):
        recovering[session.merchant_id, session.recovered_from].append(session)
    winners = {key: _winner(case, recovering[key]) for key, case in cases.items()}
    sends = _sends([case.id for key, case in cases.items() if winners[key]])
    for key, case in cases.items():
        credit(case, winners[key], sends.get(case.id, []))


def _open_missing_cases(expired: list[CheckoutSession]) -> None:
    """Insert a new case for each expired session that has none, in one multi-row insert."""
    if not expired:
        return
    known = set(
        db.session.scalars(
            select(RecoveryCase.checkout_session_id).where(
                RecoveryCase.checkout_session_id.in_([m.id for m in expired])
            )
        )
    )
    now = utcnow()
    missing = [
        dict(
            merchant_id=m.merchant_id,
            checkout_session_id=m.id,
            expired_at=m.expired_at or m.state_at,
            livemode=m.livemode,
            status=CaseStatus.NEW,
            next_action_at=now,
        )
        for m in expired
        if m.id not in known
    ]
    if missing:
        db.session.execute(insert(RecoveryCase), missing)


def _winner(case: RecoveryCase, recovering: list[CheckoutSession]) -> CheckoutSession | None:
    """The earliest paid recovery of the case's own merchant, if any."""
    paid = [s for s in recovering if s.merchant_id == case.merchant_id and s.is_paid]
    return min(paid, key=lambda s: s.completed_at or s.state_at, default=None)


def _sends(case_ids: list[int]) -> dict[int, list[tuple[int, datetime]]]:
    """(step, claimed at) of each email that may have reached the shopper, per case, in one
    query for the whole batch."""
    sends = defaultdict(list)
    if case_ids:
        for case_id, step, created_at in db.session.execute(
            select(EmailSend.case_id, EmailSend.step, EmailSend.created_at).where(
                EmailSend.case_id.in_(case_ids),
                EmailSend.status.in_((SendStatus.SENT, SendStatus.UNKNOWN)),
            )
        ):
            sends[case_id].append((step, created_at))
    return sends


def credit(
    case: RecoveryCase, winner: CheckoutSession | None, sends: list[tuple[int, datetime]]
) -> None:
    """Credit the case with its winning recovery and the last step emailed before it was paid;
    clear the credit when there is none (a delayed payment that failed takes the credit back)."""
    if winner is None:
        case.recovered_session_id = case.recovered_amount = case.recovered_currency = None
        case.recovered_at = case.recovered_step = None
        return
    case.status, case.reason, case.next_action_at = (
        CaseStatus.DONE,
        Reason.RECOVERED,
        None,
    )  # the sequence stops
    case.recovered_session_id, case.recovered_amount = winner.session_id, winner.amount_total
    case.recovered_currency, case.recovered_at = (
        winner.currency,
        winner.completed_at or winner.state_at,
    )
    # Stripe's completion time has whole seconds: an email of the same second preceded it.
    before = case.recovered_at + timedelta(seconds=1)
    case.recovered_step = max((step for step, claimed in sends if claimed < before), default=None)
