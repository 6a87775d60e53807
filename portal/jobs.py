"""RQ entry points: each takes ids (never ORM objects), calls one service, commits.

Every job is safe to run twice: idempotency lives in database unique keys, not in Redis.
"""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from redis import Redis
from redis.exceptions import RedisError
from rq import Callback, Queue, Retry
from sqlalchemy.exc import OperationalError

from portal import db
from portal.db import utcnow
from portal.extensions import rq
from portal.services import (
    account_emails,
    csv_imports,
    domain_watch,
    domains,
    dry_run,
    held_unsubscribes,
    events,
    password_reset,
    recovery,
    rollups,
    sending,
    stalled,
    test_sends,
    throttle,
    webhook_health,
)

log = logging.getLogger(__name__)
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
    """Apply every pending Stripe event, then queue the cases that became due; returns how
    many events were handled."""
    # Cleared before draining: an event stored from now on enqueues a fresh drain.
    rq.connection.delete(DRAIN_FLAG)
    handled = events.drain()
    enqueue_due_cases(rq.connection, rq.queue("mail"))
    return handled


def process_case(case_id: int) -> str:
    """Decide one recovery case and send its next email if it is due."""
    return recovery.process(case_id)


def reconsider_cases(merchant_id: int) -> int:
    """After a change of sending settings: the merchant's waiting cases decided again under
    them (see recovery.reconsider), and those now due queued at once."""
    changed = recovery.reconsider(merchant_id)
    enqueue_due_cases(rq.connection, rq.queue("mail"))
    return changed


def check_domain(domain_id: int) -> str | None:
    """Re-check one sending domain's DNS records (and tell the owner once if it broke)."""
    return domain_watch.recheck(domain_id, utcnow())


def enqueue_domain_checks(queue: Queue, limit: int = 50) -> int:
    """Queue a re-check of each domain unchecked for an hour, once while its check waits: a
    busy queue or a slow DNS never piles up copies of the same check. How many were queued."""
    due = domains.due_for_recheck(utcnow(), limit=limit)
    queued = _enqueue_each_once(queue.connection, queue, check_domain, due)
    db.session.rollback()  # only read: end the snapshot
    return queued


def send_test_email(test_send_id: int) -> str | None:
    """Send one test email from the editor (safe to run twice: only a queued one is sent)."""
    return test_sends.deliver(test_send_id)


def confirm_refusal(merchant_id: int, event_id: str, reason: str) -> bool:
    """Keep a refused direct-mode delivery for the Connect page if Stripe sent an event that
    never arrived (webhook_health.confirm_refusal); a forgery frees the check's slot
    (webhook_health.free_refusal_slot)."""
    kept = webhook_health.confirm_refusal(merchant_id, event_id, reason)
    if not kept:
        webhook_health.free_refusal_slot(rq.connection, merchant_id)
    return kept


def enqueue_refusal_check(connection: Redis, merchant_id: int, event_id: str, reason: str):
    """Queue confirm_refusal at most once a minute per merchant (webhook_health.take_refusal_slot)."""
    if webhook_health.take_refusal_slot(connection, merchant_id):
        rq.queue("default").enqueue(confirm_refusal, merchant_id, event_id, reason, result_ttl=60)


RESET_RETRY = Retry(max=3, interval=[60, 300, 900])  # a reset link lasts an hour


def send_password_reset(address: str) -> bool:
    """Email a reset link to the account of `address` if there is one; whether one was sent.
    It takes the address, not an id: the page asking for the link answers the same whether or
    not an account exists, and looking it up here keeps the lookup and the email's time out of
    that answer. Run twice, it sends two links, each good alone. Raises
    account_emails.Deferred when the mail server says to try later (RQ tries again)."""
    user = password_reset.account_for(address)
    sent = user is not None and account_emails.send_password_reset(
        user, password_reset.make_token(user)
    )
    db.session.commit()
    return sent


# A job that is safe to run again (an import and a dry run resume from their cursor, a test
# email is sent only while queued) is tried again when it fails: 10 s, 1 min and 5 min later.
# After the last try it is given up in words on its page.
RETRY = Retry(max=3, interval=[10, 60, 300])


def enqueue_retried(queue: Queue, job, object_id: int) -> None:
    """Queue `job` (process_csv_import, run_dry_run or send_test_email) for `object_id`, tried
    again when it fails, then given up."""
    queue.enqueue(
        job,
        object_id,
        job_timeout=3600,
        result_ttl=60,
        retry=RETRY,
        on_failure=Callback(_give_up_after_last_try),
    )


def _give_up_after_last_try(job, connection, exc_type, exc_value, _traceback) -> None:
    # RQ calls this after each failed try, before it schedules the next one.
    if job.retries_left:
        return
    db.session.rollback()  # the failed try's transaction
    # The driver's own words, first line only: SQLAlchemy's would add the statement and values.
    cause = getattr(exc_value, "orig", None) or exc_value
    reason = f"{type(cause).__name__}: {(str(cause).splitlines() or [''])[0]}"[:300]
    name = job.func_name.rsplit(".", 1)[-1]
    if name == "process_csv_import":
        csv_imports.give_up(job.args[0], reason)
    elif name == "run_dry_run":
        dry_run.give_up(job.args[0], reason)
    elif name == "send_test_email":
        test_sends.fail(
            job.args[0], f"Not sent: the portal's worker failed three times ({reason})."
        )
    db.session.commit()


def process_csv_import(import_id: int) -> str:
    """Apply an uploaded subscription CSV from where it stopped (a done import is left alone);
    the service commits each batch with its cursor, so a second run resumes, never repeats."""
    return csv_imports.process(import_id)


def run_dry_run(dry_run_id: int) -> str:
    """Replay the rules for a dry run from where it stopped (a finished one is left alone);
    the service commits each batch with its cursor, so a second run resumes, never recounts.
    Nothing is sent and no case changes."""
    return dry_run.process(dry_run_id)


def enqueue_due_cases(connection: Redis, queue: Queue) -> int:
    """Queue every due case once (the send row's unique key would refuse a second send)."""
    queued = _enqueue_each_once(connection, queue, process_case, recovery.due_case_ids(utcnow()))
    db.session.rollback()  # only read: end the snapshot
    return queued


def retry_send(send_id: int) -> bool:
    """Try one deferred send again (sending.retry_one: claimed first, so never sent twice)."""
    return sending.retry_one(send_id)


def enqueue_deferred_sends(connection: Redis, queue: Queue) -> int:
    """Queue each deferred send whose next try is due as its own job: a mail server or Stripe
    that hangs then holds that one try, not the sweep that applies events and queues cases."""
    due = sending.deferred_due(utcnow())
    db.session.rollback()  # only read: end the snapshot
    return _enqueue_each_once(connection, queue, retry_send, due)


def _enqueue_each_once(connection: Redis, queue: Queue, job, ids) -> int:
    # While an object's job waits, a Redis flag keeps the sweep from queuing it again.
    kind = job.__name__
    queued = 0
    for object_id in ids:
        if connection.set(f"portal:{kind}:{object_id}", "1", nx=True, ex=120):
            queue.enqueue(
                job,
                object_id,
                # A new id each time: a finished job's record, kept result_ttl seconds, would
                # lend a job of the same id its expiry, and it could vanish before it ran.
                job_id=f"{kind}-{object_id}-{secrets.token_hex(4)}",
                result_ttl=60,
                on_success=Callback(_release),
                on_failure=Callback(_release),
            )
            queued += 1
    return queued


def _release(job, connection, *args, **kwargs) -> None:
    connection.delete(f"portal:{job.func_name.rsplit('.', 1)[-1]}:{job.args[0]}")


def restart_stalled() -> int:
    """Queue again the imports and dry runs whose worker died (stalled.claim_stalled); how
    many. Without Redis they stay claimed: a sweep STALL later tries again."""
    imports, runs = stalled.claim_stalled(utcnow())
    if not imports and not runs:
        return 0
    db.session.commit()
    try:
        for import_id in imports:
            enqueue_retried(rq.queue("default"), process_csv_import, import_id)
        for run_id in runs:
            enqueue_retried(rq.queue("default"), run_dry_run, run_id)
    except RedisError as exc:
        log.warning("tick: could not queue stalled work again: %s", exc)
    log.info("tick: %d import(s) and %d dry run(s) restarted", len(imports), len(runs))
    return len(imports) + len(runs)


def tick() -> dict:
    """Periodic work, enqueued by one worker per interval; harmless if repeated: the sweep
    applies events whose job Redis lost, due cases and deferred sends are queued. With the
    database down or locked it says so in one line; the next sweep does the work."""
    try:
        return _sweep()
    except OperationalError as exc:
        db.session.rollback()
        reason = str(exc.orig or exc).splitlines()[0][:200]
        log.warning("tick: database unavailable, the next sweep tries again: %s", reason)
        return {"database": "unavailable"}


def _sweep() -> dict:
    # First: an unsubscribe held while the database was away stops its shopper's due emails.
    unsubscribed = _unless_redis_fails(
        "read held unsubscribes", held_unsubscribes.apply_held, rq.connection
    )
    applied = events.drain()
    # The rest of the sweep needs no Redis: a step Redis fails is left to the next sweep.
    queued = _unless_redis_fails(
        "queue due cases", enqueue_due_cases, rq.connection, rq.queue("mail")
    )
    domains_queued = _unless_redis_fails(
        "queue domain checks", enqueue_domain_checks, rq.queue("default")
    )
    restarted = restart_stalled()
    retried = _unless_redis_fails(
        "queue deferred sends", enqueue_deferred_sends, rq.connection, rq.queue("mail")
    )
    unknown = sending.expire_claims()
    pruned = throttle.prune(older_than=THROTTLE_RETENTION)
    events_pruned = events.prune(utcnow())
    folded = rollups.fold()
    db.session.commit()
    return {
        "unsubscribes_applied": unsubscribed,
        "events_applied": applied,
        "cases_queued": queued,
        "domains_queued": domains_queued,
        "work_restarted": restarted,
        "sends_queued": retried,
        "claims_expired": unknown,
        "throttle_hits_pruned": pruned,
        "events_pruned": events_pruned,
        "counts_folded": folded,
    }


def _unless_redis_fails(what: str, step, *args) -> int:
    """A step of the sweep's count, or 0 (logged) when Redis fails under it."""
    try:
        return step(*args)
    except RedisError as exc:
        log.warning("tick: could not %s: %s", what, exc)
        return 0
