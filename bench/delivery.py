"""Delivery: N due cases rendered and delivered to an aiosmtpd sink on loopback, against a bare
smtplib loop sending the same N messages over one reused connection (per round), in the same run.

Setup (not timed): a fresh PostgreSQL database; the Stripe sandbox (`python -m stripe_sandbox`)
as a child process on loopback, holding a connected Standard account with N live Checkout
Sessions of two line items each, each given a distinct shopper email with promotions consent,
then expired (recovery URL valid 30 days). The portal side is seeded with the portal's own event
code fed the sandbox's expired-session objects (`sessions.apply`, `consent.record`,
`cases.sync`: the same calls the event drain makes), so N cases are due now; the merchant is
connected (OAuth), has accepted the terms, `recovery_enabled`, one 0-minute step and a postal
address.

Timed, in --rounds turns (a share of the cases each), so a machine that speeds up or slows down
weighs on both sides alike:
- the portal: --workers worker processes, each started fresh like `flask worker` and kept for
  every round, each case dealt to them in turn and run in its own app context like an RQ job:
  `recovery.process(case_id)`: rules, the send-time re-check (`checkout.sessions.list`) and the
  session with its cart (`checkout.sessions.retrieve`, line items expanded) over real HTTP to
  the sandbox, claim, render, compose, SMTP
  through the worker's one reused connection, to a sink in this process;
- the baseline: the same messages, parsed from what the sink received (untimed), sent with
  `smtplib.SMTP.send_message` over one connection per round to a second sink in this process.
Rates are emails over the timed seconds of all rounds, and per worker process. CPU time is
counted for the workers, the sandbox, this process (the sinks) and PostgreSQL while the portal
side runs. `--stripe-latency-ms N` has the sandbox answer each API call N ms late (its
`--latency-ms`), as Stripe does over the network (100-200 ms): a worker then mostly waits.
Checks: each sink got exactly N messages, one per shopper; every send row is `sent`.

`--dkim`: the merchant also has a verified sending domain (a fresh 2048-bit key, marked
verified without DNS), and each round sends half its cases with it on (From the domain,
DKIM-signed) and half with it off (the platform sender), the order swapped every round; the
last line adds "signed_emails_per_s" and "signed_ratio" (signed over unsigned, target >= 0.8).

Memory: each worker's VmRSS every --sample-every emails (the largest worker at each count) and
its VmHWM at the end. `--emails 100000` is the long memory check (its setup alone takes long).
The last line printed is one JSON object.
Targets (informational): ratio >= 0.4 at 0 ms latency; RSS flat and under 200 MB over 100k.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for `portal`
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # for smtp_sink
import _common as common  # noqa: E402  (bench/ is on sys.path: it holds this script)
from _delivery_phases import Baseline, Phase, Workers  # noqa: E402
from _delivery_seed import (  # noqa: E402
    PLATFORM_KEY,
    due_case_ids,
    seed_cases,
    seed_domain,
    set_signing,
    start_sandbox,
)

TARGET_RATIO = 0.4  # with the sandbox answering at once (--stripe-latency-ms 0)
PUBLIC_URL = "https://portal.bench.example"  # https: the messages carry List-Unsubscribe
MAIL_FROM = "Cart Recovery <recovery@portal.bench.example>"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--emails",
        type=int,
        default=500,
        help="due cases to process (= emails); 100000 is the long memory check",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="worker processes sharing the cases, like `flask worker` processes",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="turns of portal then baseline, each with a share of the cases",
    )
    parser.add_argument(
        "--stripe-latency-ms",
        type=int,
        default=0,
        metavar="N",
        help="the sandbox answers each Stripe API call N ms late (real Stripe: "
        "100-200 ms, where a worker waits far more than it computes)",
    )
    parser.add_argument(
        "--sample-every", type=int, default=1000, help="emails between RSS samples"
    )
    parser.add_argument(
        "--seed-threads",
        type=int,
        default=8,
        help="concurrent HTTP clients creating the sandbox sessions (setup only)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run the timed loop under cProfile and print where the time goes",
    )
    parser.add_argument("--profile-lines", type=int, default=45, help="entries per profile table")
    parser.add_argument(
        "--dkim",
        action="store_true",
        help="the merchant has a verified sending domain: each round sends half its cases "
        "DKIM-signed From that domain and half unsigned from the platform, in turns",
    )
    parser.epilog = (
        "Defaults finish in well under a minute. Setup costs three sandbox calls per "
        "session, so large --emails runs spend much of their time there. With "
        "--stripe-latency-ms 150 a worker sends about 3 emails/s: --emails 1000 "
        "takes some 3.5 minutes."
    )
    args = parser.parse_args(argv)
    if args.stripe_latency_ms < 0:
        parser.error("--stripe-latency-ms: a number of milliseconds, 0 or more")
    return args


# --- memory ---------------------------------------------------------------------------------


def slope_per_1000(samples: list[tuple[int, float]], every: int) -> float | None:
    """Least-squares growth of RSS in MB per 1000 emails, over the samples taken every `every`
    emails after the first (the first batch warms caches up); None with fewer than two."""
    points = [(n, mb) for n, mb in samples if n >= every and n % every == 0]
    if len(points) < 2:
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var * 1000


# --- checks, profile, report ----------------------------------------------------------------


def check(
    database_url: str, emails: list[str], portal: Phase, baseline: Phase, signed: Phase | None
) -> dict:
    """What the database and the sinks hold, and whether it is what it should be (with
    --dkim: every signed-round email signed, no unsigned-round email signed)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        sends = dict(
            conn.execute("SELECT status, count(*) FROM email_sends GROUP BY 1").fetchall()
        )
        cases = dict(
            conn.execute(
                "SELECT coalesce(reason, status), count(*) FROM recovery_cases GROUP BY 1"
            ).fetchall()
        )
    n, expected = len(emails), set(emails)
    sent = portal.received + (signed.received if signed else 0)
    recipients = portal.recipients | (signed.recipients if signed else set())
    facts = {
        "sends": sends,
        "cases": cases,
        "portal_received": sent,
        "baseline_received": baseline.received,
        "portal_recipients_ok": recipients == expected,
        "signing_ok": portal.signed == 0 and (signed is None or signed.signed == signed.received),
        "baseline_recipients_ok": baseline.recipients == expected,
    }
    facts["ok"] = (
        sent == baseline.received == n
        and facts["signing_ok"]
        and sends == {"sent": n}
        and facts["portal_recipients_ok"]
        and facts["baseline_recipients_ok"]
    )
    return facts


def print_profile(paths: list[str], cases: int, lines: int) -> None:
    """Where the workers' time went (their profiles added up): portal/ functions, then the I/O
    layers, by cumulative time, then the top own-time entries overall."""
    import io
    import pstats

    stats = pstats.Stats(*paths, stream=io.StringIO())
    total = stats.total_tt
    print(
        f"\n--- cProfile of the timed loop: {total:.2f} s profiled for {cases} cases = "
        f"{total / max(cases, 1) * 1000:.2f} ms per case (profiling overhead included)"
    )
    tables = (
        ("cumulative", r"/portal/", "portal/ functions by cumulative time"),
        (
            "cumulative",
            r"stripe/_|requests/|urllib3/|http/client|smtplib|socket|sqlalchemy/"
            r"engine/base|psycopg/|email/|jinja2/|ssl",
            "I/O, SDK and library layers by cumulative time",
        ),
        ("tottime", None, "own time, everything"),
    )
    for sort, pattern, title in tables:
        out = io.StringIO()
        stats.stream = out
        stats.sort_stats(sort)
        stats.print_stats(*((pattern, lines) if pattern else (25,)))
        body = out.getvalue().split("\n", 1)[-1]
        print(
            f"\n--- {title}\n"
            + "\n".join(
                line for line in body.splitlines() if line.strip() and "function calls" not in line
            )
        )


def print_portal(args, portal: Phase) -> dict:
    """Print the portal side's lines; its CPU ms per email."""
    busy = portal.seconds * args.workers  # worker-seconds in the timed phase
    per_call = portal.stripe_seconds / max(portal.stripe_calls, 1) * 1000
    print(
        f"portal  : {portal.received} emails in {portal.seconds:.2f} s = {portal.per_s:.1f} emails/s "
        f"with {args.workers} worker process(es) = {portal.per_s / args.workers:.1f} emails/s per "
        f"worker process ({busy / max(portal.received, 1) * 1000:.2f} worker-ms each); "
        f"outcomes {portal.outcomes}"
    )
    print(
        f"  the Stripe re-check + line items over HTTP (sandbox time included, each call answered "
        f"{args.stripe_latency_ms} ms late): {portal.stripe_calls} calls, {per_call:.2f} ms each, "
        f"{portal.stripe_seconds / busy if busy else 0.0:.0%} of the workers' time"
    )
    per_email = {
        name: round(sec / max(portal.received, 1) * 1000, 2) for name, sec in portal.cpu.items()
    }
    print(
        f"  CPU ms per email: {per_email} (2 cores: {2000 / max(sum(per_email.values()), 0.01):.0f}"
        f" emails/s if nothing else ran)"
    )
    return per_email


def report(args, portal: Phase, baseline: Phase, facts: dict, setup_s: float) -> dict:
    """Print the human lines; return the result object."""
    ratio = portal.per_s / baseline.per_s if baseline.per_s else 0.0
    samples, peak = portal.samples, portal.worker_peak
    slope = slope_per_1000(samples, args.sample_every)
    print(
        f"setup (not timed): {args.emails} expired sandbox sessions + due cases in {setup_s:.1f} s"
    )
    per_email = print_portal(args, portal)
    print(
        f"baseline: {baseline.received} emails in {baseline.seconds:.2f} s = {baseline.per_s:.1f} "
        f"emails/s over {baseline.outcomes.get('connections')} connection(s)"
    )
    rounds = [
        [round(p / ps, 1) if ps else 0.0, round(b / bs, 1) if bs else 0.0]
        for (p, ps), (b, bs) in zip(portal.rounds, baseline.rounds)
    ]
    print(
        f"ratio portal/baseline: {ratio:.3f} (target >= {TARGET_RATIO} at 0 ms); per round, "
        f"emails/s portal vs baseline: " + ", ".join(f"{p} vs {b}" for p, b in rounds)
    )
    print(
        "VmRSS during the timed loop (emails: MB): "
        + ", ".join(f"{n}: {mb:.1f}" for n, mb in samples)
    )
    print(
        f"largest worker's peak RSS {peak:.1f} MB; slope "
        f"{'n/a' if slope is None else f'{slope:+.3f}'} MB per 1000 emails (VmHWM; target: flat, "
        f"< 200 MB at 100k)"
    )
    print(
        f"send rows {facts['sends']}; cases {facts['cases']}; recipients match: portal "
        f"{facts['portal_recipients_ok']}, baseline {facts['baseline_recipients_ok']}; "
        f"checks {'OK' if facts['ok'] else 'FAILED'}"
    )
    busy = portal.seconds * args.workers
    return {
        "emails_per_s": round(portal.per_s, 1),
        "emails_per_s_per_worker": round(portal.per_s / args.workers, 1),
        "baseline_per_s": round(baseline.per_s, 1),
        "ratio": round(ratio, 3),
        "stripe_latency_ms": args.stripe_latency_ms,
        "peak_rss_mb": round(peak, 1),
        "emails": args.emails,
        "workers": args.workers,
        "rounds": rounds,
        "seconds": round(portal.seconds, 3),
        "stripe_ms_per_call": round(portal.stripe_seconds / max(portal.stripe_calls, 1) * 1000, 2),
        "stripe_share": round(portal.stripe_seconds / busy, 3) if busy else 0.0,
        "cpu_ms_per_email": per_email,
        "baseline_seconds": round(baseline.seconds, 3),
        "rss_start_mb": round(samples[0][1], 1),
        "rss_end_mb": round(samples[-1][1], 1),
        "rss_slope_mb_per_1000": None if slope is None else round(slope, 3),
        "rss_samples": [[n, round(mb, 1)] for n, mb in samples],
        "profiled": args.profile,
        "checks_ok": facts["ok"],
    }


def _halves(ids: list[int], number: int, portal: Phase, signed: Phase | None) -> list[tuple]:
    """A round's work as (case ids, phase, signing on): all of it unsigned, or with --dkim half
    unsigned and half signed, the order swapped each round so that neither always goes first."""
    if signed is None:
        return [(ids, portal, False)]
    first, second = ids[: len(ids) // 2], ids[len(ids) // 2 :]
    if number % 2:
        return [(first, signed, True), (second, portal, False)]
    return [(first, portal, False), (second, signed, True)]


def run_rounds(
    env: dict, case_ids: list[int], args: argparse.Namespace, tmp: Path, sandbox_pid: int
) -> tuple[Phase, Phase, Phase | None, list]:
    """Both sides, in turns: a share of the cases through the portal's workers (with --dkim,
    half of it signed), then the same messages through the bare loop; (portal unsigned,
    baseline, portal signed or None, the workers' profile files)."""
    from smtp_sink import SmtpSink

    portal, baseline = Phase("portal"), Phase("baseline")
    signed = Phase("signed") if args.dkim else None
    size = -(-len(case_ids) // args.rounds)
    with SmtpSink() as sink, Baseline() as bare:
        workers = Workers(
            {**env, "SMTP_URL": sink.url()},
            args.workers,
            args.sample_every,
            tmp if args.profile else None,
        )
        try:
            for number, start in enumerate(range(0, len(case_ids), size)):
                spool_path = tmp / f"round-{start}.spool"
                with open(spool_path, "wb") as spool:
                    turns = _halves(case_ids[start : start + size], number, portal, signed)
                    for ids, phase, on in turns:
                        if args.dkim:
                            set_signing(env["DATABASE_URL"], on)
                        workers.run(ids, phase, sink, spool, sandbox_pid)
                bare.run(spool_path, baseline, args.sample_every)
                spool_path.unlink()
            workers.close(portal)
        finally:
            workers.kill()
        baseline.outcomes = {"connections": bare.sink.connections}
    return portal, baseline, signed, workers.profiles


def measure(
    env: dict, sandbox_base: str, args: argparse.Namespace, tmp: Path, sandbox_pid: int
) -> dict:
    """Seed, run both phases, check; the result object."""
    env = {
        **env,
        "PUBLIC_URL": PUBLIC_URL,
        "MAIL_FROM": MAIL_FROM,
        "STRIPE_SECRET_KEY": PLATFORM_KEY,
        "STRIPE_API_BASE": sandbox_base,
        "STRIPE_CONNECT_BASE": sandbox_base,
    }
    app = common.make_app(env)
    seeded = time.perf_counter()
    merchant_id, emails = seed_cases(
        app, sandbox_base, args.emails, args.seed_threads, secrets.token_hex(3)
    )
    if args.dkim:
        seed_domain(app, merchant_id)
    case_ids = due_case_ids(app)
    setup_s = time.perf_counter() - seeded
    app.extensions["db_engine"].dispose()
    print(f"{len(case_ids)} due cases for {len(emails)} shoppers; sandbox at {sandbox_base}")
    portal, baseline, signed, profiles = run_rounds(env, case_ids, args, tmp, sandbox_pid)
    facts = check(env["DATABASE_URL"], emails, portal, baseline, signed)
    if profiles:
        print_profile(profiles, len(case_ids), args.profile_lines)
    result = report(args, portal, baseline, facts, setup_s)
    return {**result, **signed_figures(portal, signed)} if signed else result


def signed_figures(portal: Phase, signed: Phase) -> dict:
    """The signed rounds beside the unsigned ones of the same run (printed and returned)."""
    ratio = signed.per_s / portal.per_s if portal.per_s else 0.0
    print(
        f"DKIM: {signed.received} emails signed From the merchant's domain in {signed.seconds:.2f}"
        f" s = {signed.per_s:.1f} emails/s vs {portal.per_s:.1f}/s unsigned in the same run: "
        f"signed/unsigned {ratio:.3f} (target >= 0.8); per round "
        + ", ".join(f"{n / s:.1f}" for n, s in signed.rounds if s)
    )
    return {"signed_emails_per_s": round(signed.per_s, 1), "signed_ratio": round(ratio, 3)}


def show_log_tail(log: Path, lines: int = 15) -> None:
    """The end of the sandbox's log, to explain a failure."""
    if log.exists():
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print("sandbox log, last lines:\n  " + "\n  ".join(tail), file=sys.stderr)


def main(argv=None) -> int:
    args = parse_args(argv)
    print(
        f"{args.emails} due cases: recovery.process over real HTTP to the sandbox (API calls "
        f"answered {args.stripe_latency_ms} ms late) and SMTP to a loopback sink, then a bare "
        f"smtplib loop{' (under cProfile)' if args.profile else ''}"
    )
    with common.fresh_environment() as env, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        proc, base = start_sandbox(env, Path(tmp) / "sandbox.log", args.stripe_latency_ms)
        try:
            result = measure(env, base, args, Path(tmp), proc.pid)
        except BaseException:
            show_log_tail(Path(tmp) / "sandbox.log")
            raise
        finally:
            common.stop(proc)
    common.emit(result)
    return 0 if result["checks_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
