"""The decision trace: what the engine decided about a case and what Stripe said at each
re-check, appended as it happens (the rest of a case's story is read from its other rows)."""

from __future__ import annotations

from datetime import datetime

from portal import db
from portal.models import CaseEvent, RecoveryCase

DECIDED = "decided"  # detail: action, reason, step, at (when it is due, for a wait or a send)
RECHECKED = "rechecked"  # detail: later (the status of the shopper's later session, or None)
RECHECK_FAILED = "recheck_failed"  # Stripe did not answer; detail: retry_at


def note(case: RecoveryCase, kind: str, now: datetime, **detail) -> None:
    """Append one step to the case's trace (in the caller's transaction)."""
    clean = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in detail.items()}
    db.session.add(
        CaseEvent(merchant_id=case.merchant_id, case_id=case.id, at=now, kind=kind, detail=clean)
    )
