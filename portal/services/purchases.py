"""Whether the shopper of an expired session paid afterwards, in any checkout of the same
merchant with the same address or customer: what the holdout comparison counts, alike for the
emailed group and the held-out one (a held-out shopper has no recovery link to follow).

Recomputed from the mirror for every case of the shoppers a batch of sessions touches, so the
answer does not depend on the order events arrive in, on repeats, or on a delayed payment
that failed after the completion."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import or_, select

from portal import db
from portal.models import CheckoutSession, RecoveryCase, SessionStatus

WINDOW = timedelta(days=30)  # as long as a recovery link can live


def refresh(mirrors: list[CheckoutSession]) -> None:
    """Bring `purchased_at` up to date on the cases of every shopper among `mirrors` whose
    session expired or completed."""
    touched = [
        m
        for m in mirrors
        if m.status in (SessionStatus.EXPIRED, SessionStatus.COMPLETE) and (m.email or m.customer)
    ]
    if not touched:
        return
    rows = _sessions_of(touched)
    rows = _sessions_of([session for session, _ in rows])  # the cases' own other keys too
    by_key = defaultdict(dict)
    for session, _ in rows:
        for key in _keys(session):
            by_key[key][session.id] = session
    for session, case in rows:
        if case is not None:
            same = {s.id: s for key in _keys(session) for s in by_key[key].values()}
            found = _first_purchase(session, case, list(same.values()))
            if found != case.purchased_at:
                case.purchased_at = found


def _keys(session: CheckoutSession) -> list[tuple]:
    """What tells a shopper apart: the address, and the customer when there is one."""
    keys = [(session.merchant_id, "email", session.email)] if session.email else []
    if session.customer:
        keys.append((session.merchant_id, "customer", session.customer))
    return keys


def _sessions_of(mirrors: list[CheckoutSession]) -> list[tuple]:
    """Every session sharing an address or a customer with one of `mirrors` (same merchant),
    each with its case if it has one, in one query."""
    merchants = {m.merchant_id for m in mirrors}
    emails = {m.email for m in mirrors if m.email}
    customers = {m.customer for m in mirrors if m.customer}
    keys = [CheckoutSession.email.in_(emails)] if emails else []
    keys += [CheckoutSession.customer.in_(customers)] if customers else []
    if not keys:
        return []
    return [
        tuple(row)
        for row in db.session.execute(
            select(CheckoutSession, RecoveryCase)
            .outerjoin(RecoveryCase, RecoveryCase.checkout_session_id == CheckoutSession.id)
            .where(CheckoutSession.merchant_id.in_(merchants), or_(*keys))
        )
    ]


def _first_purchase(
    expired: CheckoutSession, case: RecoveryCase, sessions: list[CheckoutSession]
) -> datetime | None:
    """The earliest payment by the same shopper in another session, made after `expired` was
    started and within the window after its expiry (None when there is none). Stripe's times
    have whole seconds: a payment of the same second as the start counts."""
    start = case.expired_at or expired.state_at
    paid = [s.completed_at or s.state_at for s in sessions if s.id != expired.id and s.is_paid]
    times = [t for t in paid if expired.created_at <= t <= start + WINDOW]
    if case.recovered_at is not None:
        times.append(case.recovered_at)
    return min(times, default=None)
