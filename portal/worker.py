"""The `flask worker` process: an RQ worker that runs jobs in app contexts, plus the ticker."""
from __future__ import annotations

import logging
import threading
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker

from portal import jobs

log = logging.getLogger(__name__)
TICK_SECONDS = 30


class AppWorker(SimpleWorker):
    """Runs jobs in-process (connections are reused across jobs, no fork per job), each inside
    a fresh app context so every job starts with its own database session."""

    def __init__(self, queues, *, app, **kwargs):
        super().__init__(queues, **kwargs)
        self.app = app

    def execute_job(self, job, queue):
        with self.app.app_context():
            return super().execute_job(job, queue)


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
            log.warning("ticker: could not reach Redis: %s", exc)


def run(app, connection: Redis, queues: list[Queue], burst: bool = False) -> bool:
    """Work the queues until stopped (or, with `burst`, until they are empty)."""
    enqueue_tick(connection, queues[-1])
    stop = threading.Event()
    if not burst:
        threading.Thread(target=_tick_forever, args=(connection, queues[-1], stop),
                         name="ticker", daemon=True).start()
    worker = AppWorker(queues, app=app, connection=connection)
    try:
        return worker.work(burst=burst, with_scheduler=True, logging_level="INFO")
    finally:
        stop.set()
