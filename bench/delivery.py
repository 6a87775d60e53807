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
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for `portal`
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # for smtp_sink
import _cli as cli  # noqa: E402
import _common as common  # noqa: E402  (bench/ is on sys.path: it holds this script)
from _delivery_phases import Baseline, Phase, Workers  # noqa: E402
from _delivery_report import check, print_profile, report, signed_figures  # noqa: E402
from _delivery_seed import (  # noqa: E402
    PLATFORM_KEY,
    due_case_ids,
    seed_cases,
    seed_domain,
    set_signing,
    start_sandbox,
)

PUBLIC_URL = "https://portal.bench.example"  # https: the messages carry List-Unsubscribe
MAIL_FROM = "Cart Recovery <recovery@portal.bench.example>"

OPTIONS = (
    cli.option(
        "--emails", 500, "due cases to process (= emails); 100000 is the long memory check"
    ),
    cli.option(
        "--workers", 2, "worker processes sharing the cases, like `flask worker` processes"
    ),
    cli.option("--rounds", 3, "turns of portal then baseline, each with a share of the cases"),
    cli.option(
        "--stripe-latency-ms",
        0,
        "the sandbox answers each Stripe API call N ms late (real Stripe: "
        "100-200 ms, where a worker waits far more than it computes)",
        metavar="N",
    ),
    cli.option("--sample-every", 1000, "emails between RSS samples"),
    cli.option(
        "--seed-threads", 8, "concurrent HTTP clients creating the sandbox sessions (setup only)"
    ),
    cli.flag("--profile", "run the timed loop under cProfile and print where the time goes"),
    cli.option("--profile-lines", 45, "entries per profile table"),
    cli.flag(
        "--dkim",
        "the merchant has a verified sending domain: each round sends half its cases "
        "DKIM-signed From that domain and half unsigned from the platform, in turns",
    ),
)
EPILOG = (
    "Defaults finish in well under a minute. Setup costs three sandbox calls per "
    "session, so large --emails runs spend much of their time there. With "
    "--stripe-latency-ms 150 a worker sends about 3 emails/s: --emails 1000 "
    "takes some 3.5 minutes."
)


def parse_args(argv=None) -> argparse.Namespace:
    """The options given; an error exit on a negative --stripe-latency-ms."""
    parser = cli.parser(__doc__, OPTIONS, EPILOG)
    args = parser.parse_args(argv)
    if args.stripe_latency_ms < 0:
        parser.error("--stripe-latency-ms: a number of milliseconds, 0 or more")
    return args


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


def main(argv=None) -> int:
    args = parse_args(argv)
    print(
        f"{args.emails} due cases: recovery.process over real HTTP to the sandbox (API calls "
        f"answered {args.stripe_latency_ms} ms late) and SMTP to a loopback sink, then a bare "
        f"smtplib loop{' (under cProfile)' if args.profile else ''}"
    )
    with common.workspace() as (env, tmp):
        proc, base = start_sandbox(env, tmp / "sandbox.log", args.stripe_latency_ms)
        try:
            result = measure(env, base, args, tmp, proc.pid)
        except BaseException:
            cli.show_tail(tmp / "sandbox.log", "sandbox")
            raise
        finally:
            common.stop(proc)
    common.emit(result)
    return 0 if result["checks_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
