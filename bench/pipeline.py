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
Baseline, in the same run: the rows the drain wrote (sessions, cases, contacts, consent
changes, ...) written again by PostgreSQL alone into empty twins of their tables, with every
event's row updated once (`floor_s`, `baseline_per_s`); `ratio` is ours over that rate.
Target (informational): >= 500 events/s per worker process. `--profile` drains in this process
under cProfile instead and prints the top entries.
"""

from __future__ import annotations

import argparse
import json
import random
import secrets
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for `portal`
import _cli as cli  # noqa: E402
import _common as common  # noqa: E402  (bench/ is on sys.path: it holds this script)
from _pipeline_drain import job_span, profile_drain, run_workers, show_worker_errors  # noqa: E402
from _pipeline_floor import floor_seconds, row_counts  # noqa: E402

TARGET_PER_WORKER = 500


OPTIONS = (
    cli.option("--events", 5000, "pending events to apply"),
    cli.option("--workers", 1, "`flask worker --burst` processes"),
    cli.option(
        "--completed-share",
        0.1,
        "share of checkout.session.completed events recovering an expired session",
    ),
    cli.option(
        "--repeat-share", 0.3, "share of expired sessions reusing an earlier shopper's email"
    ),
    cli.option("--timeout", 50.0, "give up draining after this many seconds"),
    cli.option("--seed", 1, "random seed for emails and order"),
    cli.flag("--profile", "drain in this process under cProfile instead of worker processes"),
)


def parse_args(argv=None) -> argparse.Namespace:
    """The options given."""
    return cli.parser(__doc__, OPTIONS).parse_args(argv)


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


def rates(args, timing: dict, processed: int) -> dict:
    """Seconds from the first drain job's start (wall: from spawning the workers) to the end
    (the timeout for unfinished runs), the workers, and the rates of the `processed` events."""
    end = timing["done"] or timing["gave_up"]
    first = timing.get("first_start") or timing["spawned"]
    seconds = end - first
    workers = 0 if args.profile else args.workers
    rate = processed / seconds if seconds > 0 else 0.0
    return {
        "seconds": seconds,
        "wall": end - timing["spawned"],
        "workers": workers,
        "rate": rate,
        "per_worker": rate / max(workers, 1),
    }


def report(args, timing: dict, facts: dict, floor: float) -> dict:
    """Print the human lines; return the result object. Unfinished runs report the rate of the
    events processed until the timeout."""
    processed = facts["statuses"].get("processed", 0)
    figures = rates(args, timing, processed)
    baseline = args.events / floor if floor > 0 else 0.0
    ratio = figures["rate"] / baseline if baseline else 0.0
    print_lines(args, timing, facts, figures)
    print(
        f"baseline: PostgreSQL alone writes the same rows in {floor:.2f} s = {baseline:.0f} "
        f"events/s; ours/baseline = {ratio:.3f}"
    )
    return {
        "events": args.events,
        "seconds": round(figures["seconds"], 3),
        "events_per_s": round(figures["rate"], 1),
        "floor_s": round(floor, 3),
        "baseline_per_s": round(baseline, 1),
        "ratio": round(ratio, 3),
        "workers": figures["workers"],
        "per_worker_per_s": round(figures["per_worker"], 1),
        "target_per_worker_per_s": TARGET_PER_WORKER,
        "wall_seconds": round(figures["wall"], 3),
        "finished": bool(timing["done"]),
        "processed": processed,
        "checks_ok": facts["ok"],
        "double_cases": facts["double_cases"],
    }


def print_lines(args, timing: dict, facts: dict, figures: dict) -> None:
    """Print the rates in `figures`, the events' statuses and errors, and what the checks found."""
    mode = (
        "in-process drain under cProfile"
        if args.profile
        else f"{figures['workers']} x flask worker --burst"
    )
    state = "all applied" if timing["done"] else f"NOT FINISHED after {args.timeout:.0f} s"
    print(
        f"{mode}: {facts['statuses'].get('processed', 0)} of {args.events} events processed in "
        f"{figures['seconds']:.2f} s ({state}; {figures['wall']:.2f} s with start-up) = {figures['rate']:.0f} "
        f"events/s, {figures['per_worker']:.0f} per worker (target >= {TARGET_PER_WORKER}); handled "
        f"per drain job: {timing['handled']}"
    )
    print(
        f"statuses {facts['statuses']}; errors recorded {facts['errors'] or 'none'}; worker exit "
        f"codes {timing['exit_codes']}"
    )
    print(
        f"cases {facts['cases']} for {facts['expired_sessions']} expired sessions (doubles "
        f"{facts['double_cases']}, missing {facts['expired_without_case']}); credited "
        f"{facts['credited']}; contacts {facts['contacts']}; consent changes "
        f"{facts['consent_changes']}; checks {cli.verdict(facts['ok'])}"
    )


def main(argv=None) -> int:
    args = parse_args(argv)
    events, n_expired = build_events(args, secrets.token_hex(3))
    print(
        f"{args.events} events: {n_expired} expired, {args.events - n_expired} completed recoveries"
    )
    with common.workspace() as (env, logdir):
        app = common.make_app(env)
        common.seed_merchant(app)
        stored = time.perf_counter()
        store_events(app, events)
        before = row_counts(env["DATABASE_URL"])
        print(
            f"stored {len(events)} pending events in {time.perf_counter() - stored:.2f} s (not timed)"
        )
        if args.profile:
            timing = profile_drain(app)
        else:
            timing = run_workers(env, args, logdir)
            timing["first_start"], timing["handled"] = job_span(timing["jobs"])
            show_worker_errors(logdir)
        app.extensions["db_engine"].dispose()
        facts = check(env["DATABASE_URL"], args.events, n_expired)
        result = report(args, timing, facts, floor_seconds(env["DATABASE_URL"], before))
    common.emit(result)
    return 0 if facts["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
