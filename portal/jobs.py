"""RQ entry points: each takes ids (never ORM objects), calls one service, commits.

Every job is safe to run twice: idempotency lives in database unique keys, not in Redis.
"""
from __future__ import annotations

from datetime import timedelta

from portal import db
from portal.services import throttle

THROTTLE_RETENTION = timedelta(days=1)  # longer than any throttle window in use


def tick() -> dict:
    """Periodic housekeeping, enqueued by one worker per interval; harmless if repeated."""
    pruned = throttle.prune(older_than=THROTTLE_RETENTION)
    db.session.commit()
    return {"throttle_hits_pruned": pruned}
