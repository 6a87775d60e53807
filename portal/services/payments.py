"""Recovered payments as a merchant reads them: a list in pages, and one payment with where it
came from (the expired session, the email that brought the shopper back, the paying session)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, tuple_

from portal import db
from portal.models import CheckoutSession, EmailSend, RecoveryCase
from portal.services import rollups

PAGE_SIZE = 50
PERIODS = (7, 30, 90, 365)  # ?days= choices; anything else: all time


@dataclass(frozen=True)
class Page:
    rows: list[tuple[RecoveryCase, CheckoutSession]]  # newest payment first
    next_before: int | None  # the id to ask the next page `before`; None: this is the last


def page(merchant_id: int, since: datetime | None, before: int | None = None) -> Page:
    """One page of the merchant's recovered payments, newest first, paid at or after `since`.
    Keyset pages by (payment time, id): rows credited meanwhile never shift a later page, so
    paging shows no gaps and no repeats. An unknown or foreign `before` starts at the top."""
    stmt = (
        select(RecoveryCase, CheckoutSession)
        .join(RecoveryCase.session)
        .where(RecoveryCase.merchant_id == merchant_id, RecoveryCase.recovered_at.is_not(None))
        .order_by(RecoveryCase.recovered_at.desc(), RecoveryCase.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if since is not None:
        stmt = stmt.where(RecoveryCase.recovered_at >= since)
    anchor = _anchor(merchant_id, before)
    if anchor is not None:
        stmt = stmt.where(tuple_(RecoveryCase.recovered_at, RecoveryCase.id) < anchor)
    rows = [tuple(row) for row in db.session.execute(stmt)]
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return Page(rows, rows[-1][0].id if more else None)


def _anchor(merchant_id: int, before: int | None) -> tuple[datetime, int] | None:
    if before is None:
        return None
    paid_at = db.session.scalar(
        select(RecoveryCase.recovered_at).where(
            RecoveryCase.id == before,
            RecoveryCase.merchant_id == merchant_id,
            RecoveryCase.recovered_at.is_not(None),
        )
    )
    return (paid_at, before) if paid_at is not None else None


def totals(merchant_id: int, since: datetime | None) -> dict[str, tuple[int, int]]:
    """Per currency (never summed across currencies): (payments, amount in minor units) of
    live-mode payments made at or after `since`. On PostgreSQL from the counts kept per quarter hour, and the rows of
    the quarter hour `since` falls in."""
    if not rollups.kept():
        return _counted(merchant_id, since, None)
    start = rollups.quarter_after(since) if since else rollups.EPOCH
    found = rollups.payment_totals(merchant_id, start, rollups.END_OF_TIME)
    if since is not None and since < start:
        for currency, (n, amount) in _counted(merchant_id, since, start).items():
            before = found.get(currency, (0, 0))
            found[currency] = (before[0] + n, before[1] + amount)
    return found


def _counted(
    merchant_id: int, since: datetime | None, until: datetime | None
) -> dict[str, tuple[int, int]]:
    stmt = (
        select(
            RecoveryCase.recovered_currency,
            func.count(),
            func.coalesce(func.sum(RecoveryCase.recovered_amount), 0),
        )
        .where(
            RecoveryCase.merchant_id == merchant_id,
            RecoveryCase.livemode.is_(True),
            RecoveryCase.recovered_at.is_not(None),
        )
        .group_by(RecoveryCase.recovered_currency)
    )
    if since is not None:
        stmt = stmt.where(RecoveryCase.recovered_at >= since)
    if until is not None:
        stmt = stmt.where(RecoveryCase.recovered_at < until)
    return {currency or "": (n, int(total)) for currency, n, total in db.session.execute(stmt)}


def bringing_send(case: RecoveryCase, sends: list[EmailSend]) -> EmailSend | None:
    """The email that preceded the payment (the credited step), if one did."""
    return next((s for s in sends if s.step == case.recovered_step), None)


def dashboard_url(session: CheckoutSession | None) -> str | None:
    """The payment in the merchant's own Stripe Dashboard (live or test path), when Stripe
    named its payment intent (a session with nothing to pay has none)."""
    if session is None or not session.payment_intent:
        return None
    mode = "" if session.livemode else "test/"
    return f"https://dashboard.stripe.com/{mode}payments/{session.payment_intent}"
