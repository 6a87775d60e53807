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
import json
import secrets
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for `portal`
import _common as common  # noqa: E402  (bench/ is on sys.path: it holds this script)

PATH = "/webhooks/stripe/connect"
REQUEST_TIMEOUT = 10.0  # seconds without an answer: the request counts as unanswered


@dataclass
class Outcome:
    """What one phase of requests got back: a status per request (None: no answer)."""

    statuses: list
    latencies: list = field(default_factory=list)  # seconds, answered requests only
    seconds: float = 0.0
    connections: int = 0

    @property
    def rps(self) -> float:
        return len(self.statuses) / self.seconds if self.seconds else 0.0

    def ms(self, pct: float) -> float:
        return round(common.percentile(sorted(self.latencies), pct) * 1000, 2)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--events", type=int, default=4000, help="measured requests per server and round"
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="measured rounds, taken in turns by both servers"
    )
    parser.add_argument("--warmup", type=int, default=400, help="warm-up requests per server")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="concurrent keep-alive connections"
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="gunicorn worker processes (both servers)"
    )
    parser.add_argument(
        "--worker-class", default="gthread", help="gunicorn worker class (both servers)"
    )
    parser.add_argument(
        "--threads", type=int, default=16, help="gunicorn threads per worker (gthread)"
    )
    parser.epilog = (
        "Defaults chosen on a 2-core machine: for the portal, gthread 2x16 (a thread per "
        "connection, each waiting on its commit) beat 2x8, 4x8 and 4x4; sync workers "
        "cannot keep connections alive."
    )
    return parser.parse_args(argv)


# --- requests -----------------------------------------------------------------------------


def build_bodies(prefix: str, count: int, merchant_tag: str) -> list[tuple[str, str]]:
    """`count` (event id, JSON body) pairs of distinct expired sessions, pretty-printed like Stripe."""
    now = int(time.time())
    bodies = []
    for i in range(count):
        event_id = f"evt_{prefix}_{merchant_tag}_{i:07d}"
        event = common.expired_event(
            event_id,
            f"cs_live_{prefix}_{merchant_tag}_{i:07d}",
            f"shopper{i % 2500}@example.com",
            now - 30,
        )
        bodies.append((event_id, json.dumps(event, indent=2)))
    return bodies


def sign_requests(bodies: list[tuple[str, str]], port: int) -> list[bytes]:
    """Raw HTTP/1.1 requests, each signed now (Stripe's tolerance is 300 s)."""
    now = int(time.time())
    requests = []
    for _event_id, body in bodies:
        data = body.encode()
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Stripe-Signature: {common.sign(body, timestamp=now)}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        requests.append(head.encode() + data)
    return requests


# --- the client ---------------------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; its status and whether the connection stays open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status, length, keep = int(lines[0].split()[1]), 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            keep = value.strip().lower() != b"close"
    if length:
        await reader.readexactly(length)
    return status, keep


async def connection_loop(port: int, requests: list[bytes], todo, outcome: Outcome) -> None:
    """Send requests taken from the shared iterator `todo` one after another on one
    connection, reconnecting when the server closes it (sync workers always do)."""
    reader = writer = None
    for index in todo:
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                outcome.connections += 1
            writer.write(requests[index])
            status, keep = await asyncio.wait_for(read_response(reader), REQUEST_TIMEOUT)
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.TimeoutError,
            ValueError,
            IndexError,
        ):
            status, keep = None, False
        else:
            outcome.latencies.append(time.perf_counter() - started)
        outcome.statuses[index] = status
        if not keep and writer is not None:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def fire(port: int, requests: list[bytes], concurrency: int) -> Outcome:
    """Send every request over `concurrency` connections; the wall time covers all of them."""
    outcome = Outcome(statuses=[None] * len(requests))
    todo = iter(range(len(requests)))  # shared: each connection takes the next request
    started = time.perf_counter()
    await asyncio.gather(
        *(connection_loop(port, requests, todo, outcome) for _ in range(concurrency))
    )
    outcome.seconds = time.perf_counter() - started
    return outcome


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
        errors = [
            line for line in self.log.read_text(errors="replace").splitlines() if line.strip()
        ]
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


def pooled(outcomes: list[Outcome]) -> Outcome:
    """Every round's requests as one outcome (for latencies and losses; rates stay per round)."""
    return Outcome(
        statuses=[s for o in outcomes for s in o.statuses],
        latencies=[x for o in outcomes for x in o.latencies],
        seconds=sum(o.seconds for o in outcomes),
        connections=sum(o.connections for o in outcomes),
    )


def report(args, rounds: tuple[list, list], losses: dict, stored: int) -> dict:
    """Print the human lines; return the result object (rates: the median round)."""
    base_rps = statistics.median(o.rps for o in rounds[0])
    real_rps = statistics.median(o.rps for o in rounds[1])
    base, real = pooled(rounds[0]), pooled(rounds[1])
    for label, o, rates in (("baseline", base, rounds[0]), ("endpoint", real, rounds[1])):
        print(
            f"{label:9s}: {len(o.statuses)} requests, rounds at "
            f"{' / '.join(f'{r.rps:.0f}' for r in rates)} req/s; p50 {o.ms(50)} ms, "
            f"p90 {o.ms(90)} ms, p99 {o.ms(99)} ms, max {o.ms(100)} ms; "
            f"{o.connections} connections opened"
        )
    ratio = real_rps / base_rps if base_rps else 0.0
    per_round = " / ".join(f"{r.rps / b.rps:.2f}" for b, r in zip(*rounds) if b.rps)
    print(
        f"ratio endpoint/baseline (median rounds): {ratio:.3f}, per round {per_round} "
        f"(target >= 0.6); p99 {real.ms(99)} ms (target < 100)"
    )
    codes = f" (statuses {losses['other_codes']})" if losses["other_codes"] else ""
    print(
        f"non-200 answers: {losses['non_200']}{codes}; no answer: "
        f"{losses['no_answer']}; 200 but not stored: {losses['missing_after_200']}; "
        f"rows in stripe_events: {stored}; lost: {losses['lost']} (target 0)"
    )
    return {
        "endpoint_rps": round(real_rps, 1),
        "baseline_rps": round(base_rps, 1),
        "ratio": round(ratio, 3),
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
    with common.fresh_environment() as env, tempfile.TemporaryDirectory(prefix="bench-") as logdir:
        common.seed_merchant(common.make_app(env))
        rounds = run_rounds(env, args, bodies, Path(logdir))
        stored = stored_ids(env["DATABASE_URL"])
        ids = [event_id for measured in bodies["rounds"] for event_id, _ in measured]
        losses = count_lost(pooled(rounds[1]), ids, stored)
        result = report(args, rounds, losses, len(stored))
    common.emit(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
