"""The operator's figures for GET /metrics, in Prometheus' text format. Each scrape reads them
from the database and Redis, so every web process shows the same numbers and nothing is
counted in memory; each query is served by an index or reads a small table.

Figures: whether the database and Redis answer; webhook events waiting to be applied or failed
for good (and the age of the oldest waiting); jobs waiting, scheduled for a retry and failed
per queue; workers alive; unsubscribes held in Redis; CSV imports and dry runs queued or running; recovery emails being
sent or waiting for a retry, and carts waiting for Stripe to answer. No merchant's data: only
totals over all of them."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from portal.db import utcnow
from portal.models import CaseStatus, CsvImport, DryRun, DryRunStatus, EmailSend, EventStatus
from portal.models import ImportStatus, RecoveryCase, SendStatus, StripeEvent
from portal.services import health, held_unsubscribes

WAITING_EVENTS = (EventStatus.PENDING, EventStatus.FAILED)
IN_FLIGHT = (SendStatus.CLAIMED, SendStatus.DEFERRED)
ACTIVE_IMPORTS = (ImportStatus.QUEUED, ImportStatus.RUNNING)
ACTIVE_DRY_RUNS = (DryRunStatus.QUEUED, DryRunStatus.RUNNING)


def text(engine: Engine, redis: Redis, queues: list[Queue]) -> bytes:
    """The figures now, in Prometheus' text format (CONTENT_TYPE_LATEST names its version)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(engine, redis, queues))
    return generate_latest(registry)


class _Collector:
    def __init__(self, engine: Engine, redis: Redis, queues: list[Queue]) -> None:
        self.engine, self.redis, self.queues = engine, redis, queues

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily("portal_up", "1 when the portal reaches the part", labels=["part"])
        database = health.check_database(self.engine) is None
        redis = health.check_redis(self.redis) is None
        up.add_metric(["database"], float(database))
        up.add_metric(["redis"], float(redis))
        yield up
        if database:
            try:
                yield from _database_figures(self.engine)
            except SQLAlchemyError:
                pass  # the database went away mid-scrape: portal_up says so next time
        if redis:
            try:
                yield from _queue_figures(self.redis, self.queues)
            except RedisError:
                pass


def _database_figures(engine: Engine) -> Iterator[GaugeMetricFamily]:
    with Session(engine) as session:
        yield _by_status(
            session,
            StripeEvent,
            WAITING_EVENTS,
            "portal_webhook_events",
            "Webhook events waiting to be applied (pending) or failed for good (failed)",
        )
        oldest = session.scalar(
            select(func.min(StripeEvent.received_at)).where(
                StripeEvent.status == EventStatus.PENDING
            )
        )
        yield GaugeMetricFamily(
            "portal_oldest_pending_event_age_seconds",
            "Seconds since the oldest event still waiting was received (0: none waits)",
            value=(utcnow() - oldest).total_seconds() if oldest else 0,
        )
        for model, active, name, what in (
            (CsvImport, ACTIVE_IMPORTS, "portal_csv_imports", "Subscription CSV imports"),
            (DryRun, ACTIVE_DRY_RUNS, "portal_dry_runs", "Dry runs"),
        ):
            yield _by_status(session, model, active, name, f"{what} queued or running")
        yield from _delivery_figures(session)


def _delivery_figures(session: Session) -> Iterator[GaugeMetricFamily]:
    """What a mail server or Stripe that stopped answering shows first: emails waiting for a
    retry, and cases whose send-time check with Stripe failed and waits to be tried again."""
    yield _by_status(
        session,
        EmailSend,
        IN_FLIGHT,
        "portal_email_sends",
        "Recovery emails being sent (claimed) or waiting to be retried (deferred: the mail "
        "server said to try later, or did not answer)",
    )
    waiting = session.scalar(
        select(func.count()).where(
            RecoveryCase.status == CaseStatus.SCHEDULED, RecoveryCase.attempts > 0
        )
    )
    yield GaugeMetricFamily(
        "portal_cases_waiting_on_stripe",
        "Carts whose check with Stripe just before sending failed, waiting to try again",
        value=waiting or 0,
    )


def _by_status(
    session: Session, model, statuses: tuple, name: str, documentation: str
) -> GaugeMetricFamily:
    """How many rows of `model` are in each of `statuses` (0 for none), one label each."""
    family = GaugeMetricFamily(name, documentation, labels=["status"])
    counts = dict(
        session.execute(
            select(model.status, func.count())
            .where(model.status.in_(statuses))
            .group_by(model.status)
        ).all()
    )
    for status in statuses:
        family.add_metric([str(status)], counts.get(status, 0))
    return family


def _queue_figures(redis: Redis, queues: list[Queue]) -> Iterator[GaugeMetricFamily]:
    families = {
        "waiting": GaugeMetricFamily(
            "portal_queue_jobs", "Jobs waiting in each queue", labels=["queue"]
        ),
        "scheduled": GaugeMetricFamily(
            "portal_queue_scheduled_jobs",
            "Jobs of each queue scheduled for later (retries among them)",
            labels=["queue"],
        ),
        "failed": GaugeMetricFamily(
            "portal_queue_failed_jobs", "Jobs of each queue that failed for good", labels=["queue"]
        ),
    }
    for queue in queues:
        families["waiting"].add_metric([queue.name], queue.count)
        families["scheduled"].add_metric([queue.name], queue.scheduled_job_registry.count)
        families["failed"].add_metric([queue.name], queue.failed_job_registry.count)
    yield from families.values()
    yield GaugeMetricFamily(
        "portal_workers", "Workers alive", value=Worker.count(connection=redis)
    )
    held = GaugeMetricFamily(
        "portal_held_unsubscribes",
        "Unsubscribes taken while the database was away: waiting for the sweep, or set aside "
        "after failing to apply (see the worker's log)",
        labels=["state"],
    )
    held.add_metric(["waiting"], redis.llen(held_unsubscribes.KEY))
    held.add_metric(["failed"], redis.llen(f"{held_unsubscribes.KEY}:failed"))
    yield held
