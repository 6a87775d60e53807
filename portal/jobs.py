"""RQ entry points: each takes ids (never ORM objects), calls one service, commits.

Every job is safe to run twice: idempotency lives in database unique keys, not in Redis.
"""
from __future__ import annotations

from datetime import timedelta

from redis import Redis
from rq import Queue

from portal import db
from portal.services import events, throttle

THROTTLE_RETENTION = timedelta(days=1)  # longer than any throttle window in use
# While this flag is set a drain job is waiting: webhooks need not enqueue another one.
DRAIN_FLAG = "portal:events:drain-requested"
DRAIN_FLAG_SECONDS = 60


def request_drain(connection: Redis, queue: Queue) -> bool:
    """Enqueue one drain job unless one is already waiting; True when this call enqueued it."""
    if not connection.set(DRAIN_FLAG, "1", nx=True, ex=DRAIN_FLAG_SECONDS):
        return False
    queue.enqueue(drain_events, job_timeout=600, result_ttl=60)
    return True


def drain_events() -> int:
    """Apply every pending Stripe event; returns how many were handled."""
    from portal.extensions import rq

    # Cleared before draining: an event stored from now on enqueues a fresh drain.
    rq.connection.delete(DRAIN_FLAG)
    return events.drain()


def tick() -> dict:
    """Periodic work, enqueued by one worker per interval; harmless if repeated. The sweep
    applies events whose job Redis lost, or whose retry came due."""
    applied = events.drain()
    pruned = throttle.prune(older_than=THROTTLE_RETENTION)
    db.session.commit()
    return {"events_applied": applied, "throttle_hits_pruned": pruned}
