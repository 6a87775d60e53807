"""Draining for bench/pipeline.py: the RQ drain jobs, `flask worker --burst` processes polled
until no event is pending, or one drain in this process under cProfile; their timings.

Not a benchmark itself (`make bench` skips the `_` files): pipeline.py uses it.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import timezone
from pathlib import Path

import _cli as cli
import _common as common

POLL_SECONDS = 0.02


def pending(conn) -> int:
    """How many stored events still wait to be applied."""
    sql = "SELECT count(*) FROM stripe_events WHERE status = 'pending'"
    return conn.execute(sql).fetchone()[0]


def enqueue_drains(count: int) -> list:
    """`count` drain jobs on the `events` queue, as the webhook endpoint enqueues them."""
    from redis import Redis
    from rq import Queue

    from portal import jobs

    queue = Queue("events", connection=Redis.from_url(common.REDIS_URL))
    return [
        queue.enqueue(jobs.drain_events, job_timeout=600, result_ttl=600) for _ in range(count)
    ]


def run_workers(env: dict, args: argparse.Namespace, logdir: Path) -> dict:
    """Enqueue the drains, start the workers, poll until nothing is pending; always stop them."""
    import psycopg

    drains = enqueue_drains(args.workers)
    procs = []
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        try:
            spawned = time.time()
            for n in range(args.workers):
                procs.append(
                    common.start(
                        [str(common.VENV_BIN / "flask"), "worker", "--burst"],
                        env,
                        logdir / f"worker-{n}.log",
                    )
                )
            done = wait_drained(conn, procs, spawned + args.timeout)
            gave_up = time.time()
            wait_exit(procs, 5.0 if done else 0.0)
        finally:
            for proc in procs:
                common.stop(proc)
    return {
        "spawned": spawned,
        "done": done,
        "gave_up": gave_up,
        "jobs": drains,
        "exit_codes": [p.returncode for p in procs],
    }


def wait_exit(procs: list, seconds: float) -> None:
    """Give burst workers up to `seconds` to exit on their own (they still run the tick job)."""
    deadline = time.time() + seconds
    for proc in procs:
        try:
            proc.wait(timeout=max(0.01, deadline - time.time()))
        except Exception:  # subprocess.TimeoutExpired: stop() ends it
            pass


def wait_drained(conn, procs: list, deadline: float) -> float | None:
    """The time at which no event was pending any more (None: workers exited or timed out)."""
    while time.time() < deadline:
        if pending(conn) == 0:
            return time.time()
        if all(p.poll() is not None for p in procs):
            return time.time() if pending(conn) == 0 else None
        time.sleep(POLL_SECONDS)
    return None


def job_span(drains: list) -> tuple[float | None, list]:
    """The epoch second the first drain job started, and what each drain job returned."""
    starts, handled = [], []
    for job in drains:
        job.refresh()
        if job.started_at is not None:
            started = job.started_at
            starts.append(
                (started if started.tzinfo else started.replace(tzinfo=timezone.utc)).timestamp()
            )
        handled.append(job.return_value())
    return (min(starts) if starts else None), handled


def profile_drain(app) -> dict:
    """Drain in this process under cProfile; print the top entries; timings like run_workers."""
    import cProfile
    import pstats

    from portal.services import events

    profiler = cProfile.Profile()
    with app.app_context():
        started = time.time()
        profiler.enable()
        handled = events.drain()
        profiler.disable()
        done = time.time()
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(20)
    return {
        "spawned": started,
        "done": done,
        "gave_up": done,
        "first_start": started,
        "handled": [handled],
        "exit_codes": [],
    }


def show_worker_errors(logdir: Path) -> None:
    """Print worker log lines that look like trouble."""
    for log in sorted(logdir.glob("worker-*.log")):
        for line in cli.log_lines(log, ("Traceback", "ERROR", "Error", "failed"))[:5]:
            print(f"  {log.name}: {line[:200]}")
