"""Webhook ingestion: the real `POST /webhooks/stripe/connect` against a trivial Flask baseline.

Both apps run under gunicorn on loopback with the same settings, side by side; an asyncio client
(raw HTTP/1.1 over keep-alive connections) fires N signed Connect `checkout.session.expired`
events with unique ids at each, after a short warm-up, in turns over several rounds. Rates are
the median round's, so a burst of noise on a shared machine does not decide the ratio. The portal runs on a fresh PostgreSQL database and
Redis database 14 (both emptied at the end); no worker runs, so stored events stay pending.

"lost" counts events answered with anything but 200, not answered at all, or answered 200 but
missing from `stripe_events` afterwards. The last line printed is one JSON object.
Targets (informational): ratio >= 0.6, p99 < 100 ms, lost 0.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for `portal`
import _cli as cli  # noqa: E402
import _common as common  # noqa: E402  (bench/ is on sys.path: it holds this script)
from _ingest_client import Outcome, build_bodies, fire, pooled, sign_requests  # noqa: E402


OPTIONS = (
    cli.option("--events", 4000, "measured requests per server and round"),
    cli.option("--rounds", 5, "measured rounds, taken in turns by both servers"),
    cli.option("--warmup", 400, "warm-up requests per server"),
    cli.option("--concurrency", 32, "concurrent keep-alive connections"),
    cli.option("--workers", 2, "gunicorn worker processes (both servers)"),
    cli.option("--worker-class", "gthread", "gunicorn worker class (both servers)"),
    cli.option("--threads", 16, "gunicorn threads per worker (gthread)"),
)
EPILOG = (
    "Defaults chosen on a 2-core machine: for the portal, gthread 2x16 (a thread per "
    "connection, each waiting on its commit) beat 2x8, 4x8 and 4x4; sync workers "
    "cannot keep connections alive."
)


def parse_args(argv=None) -> argparse.Namespace:
    """The options given."""
    return cli.parser(__doc__, OPTIONS, EPILOG).parse_args(argv)


# --- servers and phases -------------------------------------------------------------------


def gunicorn_args(
    app_spec: str, port: int, args: argparse.Namespace, extra: list[str]
) -> list[str]:
    """The gunicorn command line, identical for both servers but for the app."""
    return [
        str(common.VENV_BIN / "gunicorn"),
        "--no-control-socket",  # else every gunicorn of this user shares one socket
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--backlog",
        "2048",
        "--keep-alive",
        "5",
        "--timeout",
        "30",
        "--graceful-timeout",
        "3",
        "--log-level",
        "warning",
        *extra,
        app_spec,
    ]


class Server:
    """One gunicorn serving `app_spec` on a free port, warmed up; stop() always."""

    def __init__(
        self,
        label: str,
        app_spec: str,
        extra: list[str],
        env: dict,
        args: argparse.Namespace,
        logdir: Path,
    ):
        self.label, self.port, self.log = (
            label,
            common.free_port(),
            logdir / f"gunicorn-{label}.log",
        )
        self.proc = common.start(gunicorn_args(app_spec, self.port, args, extra), env, self.log)
        common.wait_for_port(self.port, self.proc)

    def fire(self, bodies: list, concurrency: int) -> Outcome:
        return asyncio.run(fire(self.port, sign_requests(bodies, self.port), concurrency))

    def stop(self) -> None:
        common.stop(self.proc)
        errors = cli.log_lines(self.log)
        if errors:
            print(
                f"  {self.label}: gunicorn logged {len(errors)} line(s); last: {errors[-1][:200]}"
            )


def run_rounds(
    env: dict, args: argparse.Namespace, bodies: dict, logdir: Path
) -> tuple[list, list]:
    """Both servers up at once (the idle one costs nothing), warmed up, then measured in turns,
    baseline then endpoint, `rounds` times: a burst of noise on the machine hits one round of
    each, not a whole phase. Returns the outcomes of each server, round by round."""
    base = real = None
    try:
        base = Server(
            "baseline",
            "_trivial_app:app",
            ["--pythonpath", str(common.REPO / "bench")],
            env,
            args,
            logdir,
        )
        real = Server("endpoint", "wsgi:app", [], env, args, logdir)
        for server in (base, real):
            server.fire(bodies["warmup"], args.concurrency)
        outcomes: tuple[list, list] = ([], [])
        for measured in bodies["rounds"]:
            outcomes[0].append(base.fire(measured, args.concurrency))
            outcomes[1].append(real.fire(measured, args.concurrency))
        return outcomes
    finally:
        for server in (base, real):
            if server is not None:
                server.stop()


def stored_ids(database_url: str) -> set[str]:
    """Every event id in `stripe_events`."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        return {row[0] for row in conn.execute("SELECT event_id FROM stripe_events")}


def count_lost(outcome: Outcome, ids: list[str], stored: set[str]) -> dict:
    """Non-200 answers, no answers, and 200s whose event is not in the database."""
    non_200 = sum(1 for s in outcome.statuses if s is not None and s != 200)
    no_answer = sum(1 for s in outcome.statuses if s is None)
    missing = sum(1 for s, i in zip(outcome.statuses, ids) if s == 200 and i not in stored)
    codes = sorted({s for s in outcome.statuses if s not in (None, 200)})
    return {
        "non_200": non_200,
        "no_answer": no_answer,
        "missing_after_200": missing,
        "lost": non_200 + no_answer + missing,
        "other_codes": codes,
    }


def report(args, rounds: tuple[list, list], losses: dict, stored: int) -> dict:
    """Print the human lines; return the result object (rates: the median round)."""
    rates = [statistics.median(o.rps for o in side) for side in rounds]
    base, real = pooled(rounds[0]), pooled(rounds[1])
    for label, o, side in (("baseline", base, rounds[0]), ("endpoint", real, rounds[1])):
        print(
            f"{label:9s}: {len(o.statuses)} requests, rounds at "
            f"{' / '.join(f'{r.rps:.0f}' for r in side)} req/s; p50 {o.ms(50)} ms, "
            f"p90 {o.ms(90)} ms, p99 {o.ms(99)} ms, max {o.ms(100)} ms; "
            f"{o.connections} connections opened"
        )
    ratio = rates[1] / rates[0] if rates[0] else 0.0
    per_round = " / ".join(f"{r.rps / b.rps:.2f}" for b, r in zip(*rounds) if b.rps)
    print(
        f"ratio endpoint/baseline (median rounds): {ratio:.3f}, per round {per_round} "
        f"(target >= 0.6); p99 {real.ms(99)} ms (target < 100)"
    )
    print_losses(losses, stored)
    return result(args, rates, (base, real), losses)


def print_losses(losses: dict, stored: int) -> None:
    """Print what the endpoint lost, and how many events the database holds."""
    codes = f" (statuses {losses['other_codes']})" if losses["other_codes"] else ""
    print(
        f"non-200 answers: {losses['non_200']}{codes}; no answer: "
        f"{losses['no_answer']}; 200 but not stored: {losses['missing_after_200']}; "
        f"rows in stripe_events: {stored}; lost: {losses['lost']} (target 0)"
    )


def result(args, rates: list[float], pooled_: tuple[Outcome, Outcome], losses: dict) -> dict:
    """The result object: the median rounds' `rates` and the `pooled_` latencies (each
    baseline, endpoint), the endpoint's losses, the settings."""
    (base_rps, real_rps), (base, real) = rates, pooled_
    return {
        "endpoint_rps": round(real_rps, 1),
        "baseline_rps": round(base_rps, 1),
        "ratio": round(real_rps / base_rps if base_rps else 0.0, 3),
        "p50_ms": real.ms(50),
        "p99_ms": real.ms(99),
        "lost": losses["lost"],
        "non_200": losses["non_200"],
        "no_answer": losses["no_answer"],
        "baseline_p50_ms": base.ms(50),
        "baseline_p99_ms": base.ms(99),
        "events": args.events,
        "rounds": args.rounds,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "worker_class": args.worker_class,
        "threads": args.threads,
    }


def main(argv=None) -> int:
    args = parse_args(argv)
    tag = secrets.token_hex(3)
    bodies = {
        "warmup": build_bodies("warm", args.warmup, tag),
        "rounds": [build_bodies(f"bench{r}", args.events, tag) for r in range(args.rounds)],
    }
    print(
        f"{args.events} events x {args.rounds} rounds (+{args.warmup} warm-up) per server, "
        f"{args.concurrency} connections, gunicorn {args.workers} x {args.worker_class} x "
        f"{args.threads} threads"
    )
    with common.workspace() as (env, logdir):
        common.seed_merchant(common.make_app(env))
        rounds = run_rounds(env, args, bodies, logdir)
        stored = stored_ids(env["DATABASE_URL"])
        ids = [event_id for measured in bodies["rounds"] for event_id, _ in measured]
        losses = count_lost(pooled(rounds[1]), ids, stored)
        result = report(args, rounds, losses, len(stored))
    common.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
