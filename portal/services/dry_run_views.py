"""What the dry-run pages read: a run's example carts, and the merchant's latest runs."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from portal import db
from portal.models import CheckoutSession, DryRun, Merchant, RecoveryCase


def examples(run: DryRun) -> dict[str, list[tuple[RecoveryCase, CheckoutSession]]]:
    """A few cases of each replayed outcome, with their sessions (the run's merchant's only)."""
    kinds = {i: kind for kind, ids in (run.results or {}).get("examples", {}).items() for i in ids}
    found = defaultdict(list)
    if kinds:
        for case, session in db.session.execute(
            select(RecoveryCase, CheckoutSession)
            .join(CheckoutSession, CheckoutSession.id == RecoveryCase.checkout_session_id)
            .where(RecoveryCase.merchant_id == run.merchant_id, RecoveryCase.id.in_(kinds))
            .order_by(RecoveryCase.id)
        ):
            found[kinds[case.id]].append((case, session))
    return found


def recent(merchant: Merchant, limit: int = 10) -> list[DryRun]:
    """The merchant's latest dry runs, newest first."""
    return list(
        db.session.scalars(
            select(DryRun)
            .where(DryRun.merchant_id == merchant.id)
            .order_by(DryRun.id.desc())
            .limit(limit)
        )
    )
