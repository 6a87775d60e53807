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
    groups = _shoppers(touched)
    for sessions in groups.values():
        for session, case in sessions:
            if case is not None:
                found = _first_purchase(session, case, sessions)
                if found != case.purchased_at:
                    case.purchased_at = found


def _shoppers(mirrors: list[CheckoutSession]) -> dict[tuple, list]:
    """Every session (with its case, if any) of the shoppers of `mirrors`, grouped by shopper
    (merchant and address, or merchant and customer), in one query."""
    merchants = {m.merchant_id for m in mirrors}
    emails = {m.email for m in mirrors if m.email}
    customers = {m.customer for m in mirrors if m.customer}
    keys = [CheckoutSession.email.in_(emails)] if emails else []
    keys += [CheckoutSession.customer.in_(customers)] if customers else []
    rows = db.session.execute(
        select(CheckoutSession, RecoveryCase)
        .outerjoin(RecoveryCase, RecoveryCase.checkout_session_id == CheckoutSession.id)
        .where(CheckoutSession.merchant_id.in_(merchants), or_(*keys))
    ).all()
    groups = defaultdict(list)
    for session, case in rows:
        for key in (("email", session.email), ("customer", session.customer)):
            if key[1] and key[1] in (emails if key[0] == "email" else customers):
                groups[(session.merchant_id, *key)].append((session, case))
    return groups


def _first_purchase(
    expired: CheckoutSession, case: RecoveryCase, sessions: list
) -> datetime | None:
    """The earliest payment by the same shopper in another session, made after `expired` was
    started and within the window after its expiry (None when there is none). Stripe's times
    have whole seconds: a payment of the same second as the start counts."""
    start = case.expired_at or expired.state_at
    paid = [s.completed_at or s.state_at for s, _ in sessions if s.id != expired.id and s.is_paid]
    times = [t for t in paid if expired.created_at <= t <= start + WINDOW]
    if case.recovered_at is not None:
        times.append(case.recovered_at)
    return min(times, default=None)
