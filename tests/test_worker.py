"""`flask worker` on real Redis: jobs run in app contexts, the tick is elected once per slot,
and a Redis outage pauses the worker instead of ending it."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue, Worker
from sqlalchemy import func, select

from portal import jobs, worker
from portal.db import utcnow
from portal.extensions import rq
from portal.models import ThrottleHit
from helpers import PrivateRedis


def test_worker_burst_runs_the_tick_and_prunes_old_hits(app, db, redis_conn, monkeypatch):
    monkeypatch.setattr(rq, "connection", redis_conn)
    db.add_all(
        [
            ThrottleHit(key="old", at=utcnow() - timedelta(days=2)),
            ThrottleHit(key="fresh", at=utcnow()),
        ]
    )
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
    assert job.return_value() == {
        "unsubscribes_applied": 0,
        "events_applied": 0,
        "cases_queued": 0,
        "domains_queued": 0,
        "work_restarted": 0,
        "sends_queued": 0,
        "claims_expired": 0,
        "throttle_hits_pruned": 1,
        "events_pruned": 0,
        "counts_folded": 0,
    }
    assert db.scalar(select(func.count()).select_from(ThrottleHit)) == 0


def test_the_sweeps_routine_lines_stay_out_of_the_log(app, db, redis_conn):
    queue = Queue("default", connection=redis_conn)
    queue.enqueue(len, "abc", job_id="a-job-of-its-own")
    lines = []
    handler = logging.Handler(logging.INFO)
    handler.emit = lambda record: lines.append(record.getMessage())
    rq_log = logging.getLogger("rq.worker")
    rq_log.addHandler(handler)
    try:
        assert worker.run(app, redis_conn, [queue], burst=True)  # runs a tick of its own too
    finally:
        rq_log.removeHandler(handler)
    assert any("a-job-of-its-own" in line for line in lines), lines
    assert not [line for line in lines if "tick" in line], lines
    finished = queue.finished_job_registry.get_job_ids()
    assert any(job_id.startswith("portal-tick-") for job_id in finished), finished


def test_tick_is_enqueued_once_per_slot_across_workers(redis_conn):
    queue = Queue("default", connection=redis_conn)
    now = 1_800_000_000.0
    assert worker.enqueue_tick(redis_conn, queue, now) is True
    assert worker.enqueue_tick(redis_conn, queue, now + 1) is False  # same slot, other worker
    assert worker.enqueue_tick(redis_conn, queue, now + worker.TICK_SECONDS) is True
    assert len(queue) == 2


ROOT = Path(__file__).resolve().parent.parent
needs_redis_server = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server to stop and restart"
)


def _wait_for(condition, seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.05)


@pytest.fixture
def outage(app, tmp_path):
    """A private Redis and a `flask worker` process using it (and the test database):
    (redis, worker process, path of the worker's output). Both are stopped afterwards."""
    redis_server = PrivateRedis()
    redis_server.start()
    log_path = tmp_path / "worker.log"
    env = {
        **os.environ,
        "FLASK_APP": "wsgi",
        "PORTAL_ENV": "testing",
        "PYTHONUNBUFFERED": "1",
        "REDIS_URL": redis_server.url,
        "DATABASE_URL": app.config["DATABASE_URL"],
    }
    with log_path.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "worker"],
            cwd=ROOT,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        yield redis_server, process, log_path
    finally:
        process.terminate()  # lets it stop its scheduler process too
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        redis_server.stop()


@needs_redis_server
def test_worker_outlives_a_redis_outage_and_works_after_it(outage):
    redis_server, process, log_path = outage
    queue = Queue("default", connection=Redis.from_url(redis_server.url, socket_connect_timeout=1))
    busy = queue.enqueue(time.sleep, 2)  # Redis goes while it runs: RQ cannot record its end
    _wait_for(
        lambda: busy.get_status(refresh=True) == "started", 30, "the worker never took the job"
    )
    redis_server.stop()
    time.sleep(6)  # the job ended 2 s in; several reconnection tries failed since
    assert process.poll() is None, log_path.read_text()
    redis_server.start()  # the same port, empty
    job = queue.enqueue(jobs.tick)
    _wait_for(
        lambda: job.get_status(refresh=True) == "finished",
        60,
        f"the worker never ran a job after the outage:\n{log_path.read_text()}",
    )
    process.terminate()
    assert process.wait(timeout=10) == 0
    log = log_path.read_text()
    assert log.count("Redis is unreachable") == 1 and log.count("Redis is back") == 1, log


@needs_redis_server
def test_sigterm_stops_a_worker_waiting_for_redis_at_once(outage):
    redis_server, process, log_path = outage
    connection = Redis.from_url(redis_server.url, socket_connect_timeout=1)
    _wait_for(lambda: Worker.count(connection=connection) == 1, 30, "the worker never started")
    redis_server.stop()
    _wait_for(
        lambda: "Redis is unreachable" in log_path.read_text(),
        30,
        "the worker never noticed the outage",
    )
    process.terminate()
    assert process.wait(timeout=3) == 0, log_path.read_text()


@pytest.mark.parametrize(
    ("job_name", "service", "function"),
    [
        ("portal.jobs.process_csv_import", "csv_imports", "give_up"),
        ("portal.jobs.run_dry_run", "dry_run", "give_up"),
        ("portal.jobs.send_test_email", "test_sends", "fail"),
    ],
)
def test_a_job_is_given_up_on_its_page_only_after_its_last_try(
    app, monkeypatch, job_name, service, function
):
    from types import SimpleNamespace

    from portal import jobs

    calls = []
    monkeypatch.setattr(getattr(jobs, service), function, lambda *args: calls.append(args))
    error = RuntimeError("database is locked")
    with app.app_context():
        for retries_left in (2, 1, 0):
            job = SimpleNamespace(func_name=job_name, args=(7,), retries_left=retries_left)
            jobs._give_up_after_last_try(job, None, RuntimeError, error, None)
    assert (
        len(calls) == 1 and calls[0][0] == 7 and "RuntimeError: database is locked" in calls[0][1]
    )


def test_a_database_error_is_given_up_in_its_drivers_words_only(app, monkeypatch):
    import sqlite3
    from types import SimpleNamespace

    from sqlalchemy.exc import OperationalError

    from portal import jobs

    calls = []
    monkeypatch.setattr(jobs.csv_imports, "give_up", lambda *args: calls.append(args))
    error = OperationalError(
        "INSERT INTO contacts ...", {"email": "a@example.com"}, sqlite3.OperationalError("locked")
    )
    job = SimpleNamespace(func_name="portal.jobs.process_csv_import", args=(7,), retries_left=0)
    with app.app_context():
        jobs._give_up_after_last_try(job, None, OperationalError, error, None)
    assert calls == [(7, "OperationalError: locked")]


CHILD_OF_A_KILLED_WORKER = """
import os, signal, sys, time
from portal import worker
worker.end_children_with_this_process()
child = os.fork()
if child == 0:
    time.sleep(60)  # RQ's scheduler, say: it must not outlive the worker
    os._exit(0)
print(child, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_process_the_worker_forks_ends_when_the_worker_is_killed():
    done = subprocess.run(
        [sys.executable, "-c", CHILD_OF_A_KILLED_WORKER],
        cwd=Path(__file__).resolve().parent.parent,
        capture_output=True,
        text=True,
        timeout=30,
    )
    child = int(done.stdout.split()[0])
    for _ in range(50):  # an orphan would live for its whole minute
        if not _alive(child):
            break
        time.sleep(0.1)
    assert not _alive(child)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_server_ends_a_transaction_a_dead_process_left_open(app):
    from sqlalchemy import text

    from portal import db as portal_db

    engine = portal_db.bound_engine()
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's own timeout")
    with engine.connect() as connection:
        shown = connection.execute(text("SHOW idle_in_transaction_session_timeout")).scalar()
    assert shown == "10min"
