"""The sweep's jobs for due cases, on real Redis and the real worker: a case queued again after
its job finished gets a job of its own, which runs (a reused job id would inherit the finished
job's expiry and could vanish before a busy worker reached it)."""

from __future__ import annotations

from datetime import timedelta

from rq import Queue
from rq.job import Job
from sqlalchemy import select

from portal import jobs, worker
from portal.db import utcnow
from portal.models import EmailSend, RecoveryCase, SendingSettings


def _sweep(kit) -> list[str]:
    """Queue the due cases as the tick does; the ids of the jobs queued."""
    mail = Queue("mail", connection=kit.redis)
    with kit.app.app_context():
        jobs.enqueue_due_cases(kit.redis, mail)
    return mail.job_ids


def test_a_case_queued_again_after_its_job_ran_gets_a_fresh_job_that_runs(kit, db):
    db.get(SendingSettings, kit.merchant_id).steps = [
        {"delay_minutes": 0},
        {"delay_minutes": 60},
    ]
    db.commit()
    session_id = kit.checkout("val@example.com")
    kit.action(session_id, "expire")
    kit.drain()
    (first,) = _sweep(kit)
    worker.run(kit.app, kit.redis, [Queue("mail", connection=kit.redis)], burst=True)
    assert len(kit.sink.messages) == 1
    case = kit.case(session_id)
    db.get(RecoveryCase, case.id).next_action_at = utcnow() - timedelta(seconds=1)
    db.commit()
    (second,) = _sweep(kit)
    assert second != first and kit.redis.ttl(f"rq:job:{second}") == -1  # no expiry while queued
    worker.run(kit.app, kit.redis, [Queue("mail", connection=kit.redis)], burst=True)
    assert Job.fetch(second, connection=kit.redis).get_status() == "finished"
    # It looked at the case: email 2 is not due for an hour after the expiry, so none yet.
    assert db.scalars(select(EmailSend.step)).all() == [0] and len(kit.sink.messages) == 1
