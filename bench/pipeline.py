"""Event pipeline: how fast `flask worker --burst` processes apply stored Stripe events.

A fresh PostgreSQL database gets a connected merchant and N pending Connect events, stored in
one transaction (not timed): mostly `checkout.session.expired` with promotions consent opt_in,
one distinct session each, emails repeating ~30% of the time, and ~10% paid
`checkout.session.completed` events recovering one of the expired sessions, shuffled. Then W
drain jobs (`portal.jobs.drain_events`) are enqueued on the RQ queue `events` (Redis database
14) and W `flask worker --burst` processes are started: the production path (RQ, app context
per job, batches claimed with SKIP LOCKED).

`seconds` runs from the first drain job starting (RQ's started_at: the workers' interpreter
start-up is left out) until no event is pending (the database is polled); `wall_seconds`
includes start-up. Checks: every event `processed`, exactly one recovery case per expired
session, one credit per recovery. The last line printed is one JSON object.
Target (informational): >= 500 events/s per worker process. `--profile` drains in this process
under cProfile instead and prints the top entries.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for `portal`
import _common as common  # noqa: E402  (bench/ is on sys.path: it holds this script)

TARGET_PER_WORKER = 500
POLL_SECONDS = 0.02


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=5000, help="pending events to apply")
    parser.add_argument("--workers", type=int, default=1, help="`flask worker --burst` processes")
    parser.add_argument(
        "--completed-share",
        type=float,
        default=0.1,
        help="share of checkout.session.completed events recovering an expired session",
    )
    parser.add_argument(
        "--repeat-share",
        type=float,
        default=0.3,
        help="share of expired sessions reusing an earlier shopper's email",
    )
    parser.add_argument(
        "--timeout", type=float, default=50.0, help="give up draining after this many seconds"
    )
    parser.add_argument("--seed", type=int, default=1, help="random seed for emails and order")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="drain in this process under cProfile instead of worker processes",
    )
    return parser.parse_args(argv)


# --- the events ---------------------------------------------------------------------------


def build_events(args: argparse.Namespace, tag: str) -> tuple[list[dict], int]:
    """The shuffled events, and how many are expired sessions."""
    rng = random.Random(args.seed)
    n_completed = round(args.events * args.completed_share)
    n_expired = args.events - n_completed
    start = int(time.time()) - 7200
    emails: list[str] = []
    expired = []
    for i in range(n_expired):
        if emails and rng.random() < args.repeat_share:
            email = rng.choice(emails)
        else:
            email = f"shopper{len(emails)}.{tag}@example.com"
            emails.append(email)
        expired.append(
            common.expired_event(
                f"evt_exp_{tag}_{i:07d}", f"cs_live_exp_{tag}_{i:07d}", email, start + i % 3600
            )
        )
    completed = []
    for j, k in enumerate(rng.sample(range(n_expired), n_completed)):
        original = expired[k]
        completed.append(
            common.completed_event(
                f"evt_cmp_{tag}_{j:07d}",
                f"cs_live_cmp_{tag}_{j:07d}",
                original["data"]["object"]["customer_details"]["email"],
                original["created"] + 900,
                recovered_from=original["data"]["object"]["id"],
            )
        )
    events = expired + completed
    rng.shuffle(events)
    return events, n_expired


def store_events(app, events: list[dict]) -> None:
    """Insert the events as pending rows, as webhooks.store() would, in one transaction."""
    from sqlalchemy import insert

    from portal import db
    from portal.models import EventStatus, StripeEvent

    received = datetime.now(timezone.utc)
    rows = [
        dict(
            event_id=e["id"],
            source="connect",
            account_id=e["account"],
            merchant_id=None,
            type=e["type"],
            livemode=e["livemode"],
            payload=json.dumps(e, indent=2),
            status=EventStatus.PENDING,
            created_at=datetime.fromtimestamp(e["created"], timezone.utc),
            received_at=received,
            attempts=0,
        )
        for e in events
    ]
    with app.app_context():
        db.session.execute(insert(StripeEvent), rows)
        db.session.commit()


# --- draining -----------------------------------------------------------------------------


def pending(conn) -> int:
    return conn.execute("SELECT count(*) FROM stripe_events WHERE status = 'pending'").fetchone()[
        0
    ]


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


# --- checking and reporting ---------------------------------------------------------------

CHECKS = {
    "statuses": "SELECT status, count(*) FROM stripe_events GROUP BY status ORDER BY status",
    "cases": "SELECT count(*), count(DISTINCT checkout_session_id) FROM recovery_cases",
    "expired_sessions": "SELECT count(*) FROM checkout_sessions WHERE status = 'expired'",
    "expired_without_case": "SELECT count(*) FROM checkout_sessions s LEFT JOIN recovery_cases c "
    "ON c.checkout_session_id = s.id WHERE s.status = 'expired' AND c.id IS NULL",
    "credited": "SELECT count(*) FROM recovery_cases WHERE recovered_at IS NOT NULL",
    "contacts": "SELECT count(*) FROM contacts",
    "consent_changes": "SELECT count(*) FROM consent_changes",
    "errors": "SELECT split_part(last_error, ':', 1), count(*) FROM stripe_events "
    "WHERE last_error IS NOT NULL GROUP BY 1 ORDER BY 2 DESC",
}


def check(database_url: str, n_events: int, n_expired: int) -> dict:
    """What the database holds after the drain, and whether it is what it should be."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        got = {name: conn.execute(sql).fetchall() for name, sql in CHECKS.items()}
    statuses = dict(got["statuses"])
    cases, distinct = got["cases"][0]
    facts = {
        "statuses": statuses,
        "cases": cases,
        "double_cases": cases - distinct,
        "expired_sessions": got["expired_sessions"][0][0],
        "expired_without_case": got["expired_without_case"][0][0],
        "credited": got["credited"][0][0],
        "contacts": got["contacts"][0][0],
        "consent_changes": got["consent_changes"][0][0],
        "errors": dict(got["errors"]),
    }
    facts["ok"] = (
        statuses.get("processed") == n_events
        and cases == distinct == n_expired
        and facts["expired_sessions"] == n_expired
        and facts["expired_without_case"] == 0
        and facts["credited"] == n_events - n_expired
    )
    return facts


def report(args, timing: dict, facts: dict) -> dict:
    """Print the human lines; return the result object. Unfinished runs report the rate of the
    events processed until the timeout."""
    end = timing["done"] or timing["gave_up"]
    first = timing.get("first_start") or timing["spawned"]
    seconds, wall = end - first, end - timing["spawned"]
    workers = 0 if args.profile else args.workers
    processed = facts["statuses"].get("processed", 0)
    rate = processed / seconds if seconds > 0 else 0.0
    per_worker = rate / max(workers, 1)
    mode = (
        "in-process drain under cProfile" if args.profile else f"{workers} x flask worker --burst"
    )
    state = "all applied" if timing["done"] else f"NOT FINISHED after {args.timeout:.0f} s"
    print(
        f"{mode}: {processed} of {args.events} events processed in {seconds:.2f} s ({state}; "
        f"{wall:.2f} s with start-up) = {rate:.0f} events/s, {per_worker:.0f} per worker "
        f"(target >= {TARGET_PER_WORKER}); handled per drain job: {timing['handled']}"
    )
    print(
        f"statuses {facts['statuses']}; errors recorded {facts['errors'] or 'none'}; worker exit "
        f"codes {timing['exit_codes']}"
    )
    print(
        f"cases {facts['cases']} for {facts['expired_sessions']} expired sessions (doubles "
        f"{facts['double_cases']}, missing {facts['expired_without_case']}); credited {facts['credited']}; "
        f"contacts {facts['contacts']}; consent changes {facts['consent_changes']}; "
        f"checks {'OK' if facts['ok'] else 'FAILED'}"
    )
    return {
        "events": args.events,
        "seconds": round(seconds, 3),
        "events_per_s": round(rate, 1),
        "workers": workers,
        "per_worker_per_s": round(per_worker, 1),
        "target_per_worker_per_s": TARGET_PER_WORKER,
        "wall_seconds": round(wall, 3),
        "finished": bool(timing["done"]),
        "processed": processed,
        "checks_ok": facts["ok"],
        "double_cases": facts["double_cases"],
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    events, n_expired = build_events(args, secrets.token_hex(3))
    print(
        f"{args.events} events: {n_expired} expired, {args.events - n_expired} completed recoveries"
    )
    with common.fresh_environment() as env, tempfile.TemporaryDirectory(prefix="bench-") as logdir:
        app = common.make_app(env)
        common.seed_merchant(app)
        stored = time.perf_counter()
        store_events(app, events)
        print(
            f"stored {len(events)} pending events in {time.perf_counter() - stored:.2f} s (not timed)"
        )
        if args.profile:
            timing = profile_drain(app)
        else:
            timing = run_workers(env, args, Path(logdir))
            timing["first_start"], timing["handled"] = job_span(timing["jobs"])
            show_worker_errors(Path(logdir))
        app.extensions["db_engine"].dispose()
        facts = check(env["DATABASE_URL"], args.events, n_expired)
        result = report(args, timing, facts)
    common.emit(result)
    return 0 if facts["ok"] else 1


def show_worker_errors(logdir: Path) -> None:
    """Print worker log lines that look like trouble."""
    for log in sorted(logdir.glob("worker-*.log")):
        bad = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if any(word in line for word in ("Traceback", "ERROR", "Error", "failed"))
        ]
        for line in bad[:5]:
            print(f"  {log.name}: {line[:200]}")


if __name__ == "__main__":
    sys.exit(main())
