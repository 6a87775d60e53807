"""`flask worker` on real Redis: jobs run in app contexts, the tick is elected once per slot."""
from __future__ import annotations

from datetime import timedelta

from rq import Queue
from sqlalchemy import func, select

from portal import jobs, worker
from portal.db import utcnow
from portal.extensions import rq
from portal.models import ThrottleHit


def test_worker_burst_runs_the_tick_and_prunes_old_hits(app, db, redis_conn, monkeypatch):
    monkeypatch.setattr(rq, "connection", redis_conn)
    db.add_all([ThrottleHit(key="old", at=utcnow() - timedelta(days=2)),
                     ThrottleHit(key="fresh", at=utcnow())])
    db.commit()
    result = app.test_cli_runner().invoke(args=["worker", "--burst"])
    assert result.exit_code == 0, result.output
    keys = db.scalars(select(ThrottleHit.key)).all()
    assert keys == ["fresh"]


def test_enqueued_job_runs_and_returns_its_result(app, db, redis_conn):
    queue = Queue("default", connection=redis_conn)
    db.add(ThrottleHit(key="old", at=utcnow() - timedelta(days=3)))
    db.commit()
    job = queue.enqueue(jobs.tick)
    assert worker.run(app, redis_conn, [queue], burst=True)
    job.refresh()
    assert job.get_status() == "finished"
    assert job.return_value() == {"events_applied": 0, "cases_queued": 0, "sends_retried": 0,
                                  "claims_expired": 0, "throttle_hits_pruned": 1}
    assert db.scalar(select(func.count()).select_from(ThrottleHit)) == 0


def test_tick_is_enqueued_once_per_slot_across_workers(redis_conn):
    queue = Queue("default", connection=redis_conn)
    now = 1_800_000_000.0
    assert worker.enqueue_tick(redis_conn, queue, now) is True
    assert worker.enqueue_tick(redis_conn, queue, now + 1) is False  # same slot, other worker
    assert worker.enqueue_tick(redis_conn, queue, now + worker.TICK_SECONDS) is True
    assert len(queue) == 2
