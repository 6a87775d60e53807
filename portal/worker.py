"""The `flask worker` process: an RQ worker that runs jobs in app contexts, plus the ticker.

Losing Redis does not end the process: the RQ worker ends, and a fresh one starts once Redis
answers again (a worker that exits would stop every process `make run` started with it).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import threading
import time
from contextlib import contextmanager

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.exceptions import StopRequested

from portal import db, jobs

log = logging.getLogger(__name__)
TICK_SECONDS = 30
FIRST_RETRY_SECONDS = 1.0
MAX_RETRY_SECONDS = 30.0
WORK_OPTIONS = {"with_scheduler": True, "logging_level": "INFO"}


class QuietTicks(logging.Filter):
    """Keeps RQ's routine lines about the sweep (started, done, result kept: four every 30 s)
    out of the log, where they buried what a person looks for (an error, or a development
    password-reset link). Its warnings and errors still show."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return record.levelno > logging.INFO or not (
            "portal-tick-" in message or "portal.jobs.tick(" in message
        )


class RedisLost(StopRequested):
    """Redis stopped answering under a worker. A StopRequested, so RQ's work loop ends quietly
    instead of retrying in place and logging every try: `run` waits for Redis, logging once."""


@contextmanager
def _ending_work_on_redis_loss():
    try:
        yield
    except RedisError as exc:
        raise RedisLost(str(exc)) from exc


class AppWorker(SimpleWorker):
    """Runs jobs in-process (connections are reused across jobs, no fork per job), each inside
    a fresh app context so every job starts with its own database session. Its work loop ends
    when Redis is lost; `stop_requested` tells that apart from an end a signal asked for."""

    # RQ retries a failed dequeue itself, waiting up to a minute between tries: after Redis
    # comes back, jobs would wait that long. A few seconds is cheap (one PING's worth).
    max_connection_wait_time = 5.0

    def __init__(self, queues, *, app, **kwargs):
        super().__init__(queues, **kwargs)
        self.app = app
        self.stop_requested = False

    def execute_job(self, job, queue):
        # A job's own errors never get here: a Redis error did, while RQ recorded the outcome.
        intent = db.write_intent.set(True)  # jobs write: on SQLite, wait for the lock at BEGIN
        try:
            with self.app.app_context(), _ending_work_on_redis_loss():
                return super().execute_job(job, queue)
        finally:
            db.write_intent.reset(intent)

    def heartbeat(self, timeout=None, pipeline=None):
        # RQ's first Redis call after each job and on each pass of its dequeue loop.
        with _ending_work_on_redis_loss():
            return super().heartbeat(timeout, pipeline)

    def handle_warm_shutdown_request(self):
        self.stop_requested = True
        super().handle_warm_shutdown_request()

    def teardown(self):
        try:
            super().teardown()
        finally:
            # RQ's teardown stops at its first Redis error, before ending this thread, which
            # would otherwise retry (and log) every 2 s for as long as the process lives.
            if self.pubsub_thread is not None:
                self.pubsub_thread.stop()


def enqueue_tick(connection: Redis, queue: Queue, now: float | None = None) -> bool:
    """Enqueue `jobs.tick` for the current slot unless another worker already did."""
    slot = int((now or time.time()) // TICK_SECONDS)
    if not connection.set(f"portal:tick:{slot}", "1", nx=True, ex=TICK_SECONDS * 4):
        return False
    queue.enqueue(jobs.tick, job_id=f"portal-tick-{slot}", result_ttl=TICK_SECONDS * 4)
    return True


def _tick_forever(connection: Redis, queue: Queue, stop: threading.Event) -> None:
    while not stop.wait(TICK_SECONDS):
        try:
            enqueue_tick(connection, queue)
        except RedisError as exc:  # Redis away: the next tick tries again; nothing is lost
            # Debug only: the worker loop already reports an outage, once.
            log.debug("ticker: could not reach Redis: %s", exc)


PR_SET_PDEATHSIG = 1  # linux/prctl.h
_forker = {"pid": 0}


def end_children_with_this_process() -> None:
    """Have every process forked from this one from now on (RQ's scheduler) end when this one
    ends, even by SIGKILL. An orphan would keep the inherited database sockets open, so the
    server would never see a killed worker's connection go, nor end its transaction and free
    its locks. On Linux; elsewhere nothing changes."""
    os.register_at_fork(before=_note_forker, after_in_child=_end_with_parent)


def _note_forker() -> None:
    _forker["pid"] = os.getpid()


def _end_with_parent() -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return
    if os.getppid() != _forker["pid"]:  # the parent died before the line above
        os.kill(os.getpid(), signal.SIGTERM)


def run(app, connection: Redis, queues: list[Queue], burst: bool = False) -> bool:
    """Work the queues until a signal stops the worker (with `burst`: until they are empty, or
    until Redis fails); returns whether any job ran. Without `burst` a Redis outage never ends
    it: the worker waits for Redis, then goes on."""
    rq_log = logging.getLogger("rq.worker")
    if not any(isinstance(f, QuietTicks) for f in rq_log.filters):
        rq_log.addFilter(QuietTicks())
    if burst:
        enqueue_tick(connection, queues[-1])
        return AppWorker(queues, app=app, connection=connection).work(burst=True, **WORK_OPTIONS)
    end_children_with_this_process()
    stop = threading.Event()
    threading.Thread(
        target=_tick_forever, args=(connection, queues[-1], stop), name="ticker", daemon=True
    ).start()
    try:
        return _work_until_stopped(app, connection, queues)
    finally:
        stop.set()


def _work_until_stopped(app, connection: Redis, queues: list[Queue]) -> bool:
    """Run one RQ worker after another until a signal stops one: a worker ends when Redis fails
    under it, and the next starts once Redis answers (the lost one's keys expire in Redis)."""
    worked = False
    try:
        while True:
            worker = None
            try:
                enqueue_tick(connection, queues[-1])
                worker = AppWorker(queues, app=app, connection=connection)
                worked = worker.work(**WORK_OPTIONS) or worked
            except RedisError:
                pass  # from RQ's teardown, or before the worker began: Redis is away
            if worker is not None and worker.stop_requested:
                return worked
            _wait_for_redis(connection)
    except StopRequested:  # a signal between two workers (RQ's handlers cover them at work)
        return worked


def _wait_for_redis(connection: Redis) -> None:
    """Return once Redis answers PING, tried 1 s, 2 s, 4 s ... (at most 30 s) apart; logs once
    when Redis is unreachable and once when it is back. SIGINT or SIGTERM meanwhile raise
    StopRequested at once: no job is running, so nothing needs finishing."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, _stop_now)
    delay, lost = FIRST_RETRY_SECONDS, False
    while True:
        time.sleep(delay)  # first, too: no busy loop if something else ended the worker
        try:
            connection.ping()
        except RedisError as exc:
            if not lost:
                log.warning("Redis is unreachable (%s): waiting for it to come back", exc)
            lost = True
            delay = min(delay * 2, MAX_RETRY_SECONDS)
            continue
        log.warning(
            "Redis is back: starting a fresh worker"
            if lost
            else "The worker stopped unexpectedly: starting a fresh one"
        )
        return


def _stop_now(signum, frame) -> None:
    # A stop often arrives twice (Ctrl-C reaches honcho's whole process group, and honcho then
    # sends SIGTERM): the second must not interrupt the way out.
    for each in (signal.SIGINT, signal.SIGTERM):
        signal.signal(each, signal.SIG_IGN)
    raise StopRequested()
