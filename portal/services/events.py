"""Applying stored Stripe events, in batches: same final state for any order or repetition.

A batch is claimed (rows locked, others skip them), applied, marked and committed in one
transaction: a worker killed mid-batch leaves every event of it pending, nothing half-applied.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update

from portal import db
from portal.db import utcnow
from portal.models import ConnectMethod, EventSource, EventStatus, StripeAccount, StripeEvent
from portal.services import cases, consent, erasure, sessions

log = logging.getLogger(__name__)
BATCH_SIZE = 500
RETRY_DELAYS = [timedelta(seconds=s) for s in (10, 60, 300, 900, 3600, 3 * 3600, 6 * 3600)]
# How long a handled event's raw body is kept. It holds a shopper's address, name and postal
# address, and serves only a replay or the spotting of a repeat (Stripe retries for 3 days);
# Stripe itself keeps events 30 days. An erasure then scans no more than this.
RETENTION = timedelta(days=30)
PRUNE_BATCH = 5000  # per sweep: a backlog goes over several sweeps, never one long delete
DONE_WITH = (EventStatus.PROCESSED, EventStatus.IGNORED, EventStatus.UNROUTED)


def drain(batch_size: int = BATCH_SIZE, now: datetime | None = None) -> int:
    """Apply every due pending event; returns how many events were handled. Call it outside a
    transaction (as jobs do), or an old snapshot may hide events stored since."""
    total = 0
    while True:
        handled = apply_batch(batch_size, now)
        total += handled
        if handled < batch_size:
            return total


def apply_batch(batch_size: int = BATCH_SIZE, now: datetime | None = None) -> int:
    """Claim up to `batch_size` due events, apply them and commit; returns how many. Commits:
    the claim, the changes and the marks are one transaction (a killed worker leaves all of
    the batch pending)."""
    now = now or utcnow()
    events = _claim(batch_size, now)
    if not events:
        return 0
    try:
        with db.session.begin_nested():
            _apply(events, now)
    except Exception:  # one bad event must not hold back the rest: apply each on its own
        log.exception("batch of %d events failed; applying them one by one", len(events))
        for event in events:
            _apply_alone(event, now)
    db.session.commit()
    return len(events)


# One drain applies events at a time: concurrent batches would insert the same contacts and
# mirrors and deadlock. A single drain applies far more than the webhook rate of a platform.
DRAIN_LOCK_ID = 0x5EED_E7E7


def hold_drains() -> None:
    """Wait for a drain batch in progress to end, then keep drains out until the caller's
    transaction ends (on PostgreSQL; SQLite has a single writer anyway). An erasure takes it:
    a batch that had found the address not yet erased would otherwise write it back."""
    db.hold(DRAIN_LOCK_ID)


def _claim(limit: int, now: datetime) -> list[StripeEvent]:
    """Lock and return up to `limit` due events; [] while another drain holds the drain lock
    (on PostgreSQL a transaction-level advisory lock; SQLite has a single writer anyway)."""
    postgres = db.session.get_bind().dialect.name == "postgresql"
    if postgres and not db.session.scalar(select(func.pg_try_advisory_xact_lock(DRAIN_LOCK_ID))):
        return []
    stmt = (
        select(StripeEvent)
        .where(
            StripeEvent.status == EventStatus.PENDING,
            or_(StripeEvent.next_attempt_at.is_(None), StripeEvent.next_attempt_at <= now),
        )
        .order_by(StripeEvent.id)
        .limit(limit)
    )
    if postgres:
        stmt = stmt.with_for_update(skip_locked=True)
    return list(db.session.scalars(stmt))


def _apply_alone(event: StripeEvent, now: datetime) -> None:
    try:
        with db.session.begin_nested():
            _apply([event], now)
    except Exception as exc:
        _record_failure(event, exc, now)


def _apply(events: list[StripeEvent], now: datetime) -> None:
    """Route, mirror sessions, record consent, sync cases, handle deauthorizations, mark done."""
    payloads = {e.id: json.loads(e.payload) for e in events}
    routed = _route(events)
    snapshots = [
        sessions.Snapshot(e.merchant_id, e.type, e.created_at, payloads[e.id]["data"]["object"])
        for e in routed
        if e.type.startswith("checkout.session.")
    ]
    mirrors = sessions.apply(snapshots)
    consent.record(erasure.without_erased(consent.from_sessions(mirrors)))
    cases.sync(mirrors)
    for event in routed:
        # Only the platform's Connect endpoint hears of its own app being removed; a direct
        # endpoint that listens to every event may hear of some other app's removal.
        if (
            event.type == "account.application.deauthorized"
            and event.source == EventSource.CONNECT
        ):
            _deauthorize(event)
    for event in events:
        event.attempts += 1
        event.processed_at, event.last_error = now, None
        if event.status == EventStatus.PENDING:
            event.status = EventStatus.PROCESSED


def _route(events: list[StripeEvent]) -> list[StripeEvent]:
    """Give Connect events their merchant by account; mark the ones nobody owns unrouted."""
    accounts = {e.account_id for e in events if e.merchant_id is None and e.account_id}
    owners = (
        dict(
            db.session.execute(
                select(StripeAccount.account_id, StripeAccount.merchant_id).where(
                    StripeAccount.account_id.in_(accounts)
                )
            ).all()
        )
        if accounts
        else {}
    )
    routed = []
    for event in events:
        event.merchant_id = event.merchant_id or owners.get(event.account_id)
        if event.merchant_id is None:
            event.status = EventStatus.UNROUTED
        else:
            routed.append(event)
    return routed


def _deauthorize(event: StripeEvent) -> None:
    """Disconnect the merchant, unless it connected again after this event was sent, or now
    uses its own key (direct mode): the removed grant was no longer what it used. Stripe's time
    has whole seconds: within the same second, disconnecting is the safe reading."""
    db.session.execute(
        update(StripeAccount)
        .where(
            StripeAccount.merchant_id == event.merchant_id,
            StripeAccount.method == ConnectMethod.OAUTH,
            StripeAccount.disconnected_at.is_(None),
            StripeAccount.connected_at < event.created_at + timedelta(seconds=1),
        )
        .values(disconnected_at=event.created_at)
    )


def _record_failure(event: StripeEvent, exc: Exception, now: datetime) -> None:
    event.attempts += 1
    event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if event.attempts > len(RETRY_DELAYS):
        event.status, event.next_attempt_at = EventStatus.FAILED, None
        log.error(
            "event %s failed for good after %d attempts: %s", event.event_id, event.attempts, exc
        )
    else:
        event.next_attempt_at = now + RETRY_DELAYS[event.attempts - 1]


def failed() -> list[StripeEvent]:
    """Events that used up their attempts, oldest first."""
    return list(
        db.session.scalars(
            select(StripeEvent)
            .where(StripeEvent.status == EventStatus.FAILED)
            .order_by(StripeEvent.id)
        )
    )


def replay(event_ids: list[str] | None = None) -> int:
    """Queue events again (the given Stripe ids, or every failed one); returns how many.
    The caller commits."""
    stmt = update(StripeEvent).values(status=EventStatus.PENDING, attempts=0, next_attempt_at=None)
    if event_ids is None:
        stmt = stmt.where(StripeEvent.status == EventStatus.FAILED)
    else:
        stmt = stmt.where(StripeEvent.event_id.in_(event_ids))
    return db.session.execute(stmt).rowcount or 0


def prune(now: datetime) -> int:
    """Delete up to PRUNE_BATCH handled events (applied, ignored, or nobody's) received more
    than RETENTION before `now`; how many went. Pending and failed ones stay for the operator.
    The caller commits."""
    old = (
        select(StripeEvent.id)
        .where(StripeEvent.received_at < now - RETENTION, StripeEvent.status.in_(DONE_WITH))
        .limit(PRUNE_BATCH)
    )
    return db.session.execute(delete(StripeEvent).where(StripeEvent.id.in_(old))).rowcount or 0
