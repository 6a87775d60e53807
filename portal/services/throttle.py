"""Sliding-window counters in the database, shared by every process of the portal."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select

from portal import db
from portal.db import utcnow
from portal.models import ThrottleHit

HOLD_CLASS = 7001  # the first key of `hold`'s advisory locks (two-key locks: their own space)


def count(key: str, window: timedelta) -> int:
    """How many hits `key` had within the last `window`."""
    since = utcnow() - window
    stmt = select(func.count()).where(ThrottleHit.key == key, ThrottleHit.at > since)
    return db.session.scalar(stmt) or 0


def hold(keys) -> None:
    """Until the caller's transaction ends, keep others from counting under `keys`, so that a
    hit, the count that follows it and the commit happen one caller at a time. On PostgreSQL,
    transaction advisory locks (class HOLD_CLASS) taken in key order: two holders never
    deadlock; on SQLite, the first write takes the one write lock anyway."""
    for key in sorted(keys):
        db.hold(HOLD_CLASS, func.hashtext(key))


def hit(key: str) -> ThrottleHit:
    """Count one attempt under `key` (the caller commits); the row, to withdraw it later."""
    row = ThrottleHit(key=key, at=utcnow())
    db.session.add(row)
    return row


def withdraw(rows: list[ThrottleHit]) -> None:
    """Uncount these attempts (e.g. ones refused before anything was tried)."""
    ids = [row.id for row in rows if row.id is not None]
    if ids:
        db.session.execute(delete(ThrottleHit).where(ThrottleHit.id.in_(ids)))


def clear(key: str) -> None:
    """Forget every hit under `key`, e.g. after a successful login."""
    db.session.execute(delete(ThrottleHit).where(ThrottleHit.key == key))


def prune(older_than: timedelta) -> int:
    """Delete hits older than any window in use; returns how many went."""
    result = db.session.execute(delete(ThrottleHit).where(ThrottleHit.at < utcnow() - older_than))
    return result.rowcount or 0
