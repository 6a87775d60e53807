"""Delivery: N due cases rendered and delivered to an aiosmtpd sink on loopback, against a bare
smtplib loop sending the same N messages over one reused connection, in the same run.

Setup (not timed): a fresh PostgreSQL database; the Stripe sandbox (`python -m stripe_sandbox`)
as a child process on loopback, holding a connected Standard account with N live Checkout
Sessions of two line items each, each given a distinct shopper email with promotions consent,
then expired (recovery URL valid 30 days). The portal side is seeded with the portal's own event
code fed the sandbox's expired-session objects (`sessions.apply`, `consent.record`,
`cases.sync`: the same calls the event drain makes), so N cases are due now; the merchant is
connected (OAuth), has accepted the terms, `recovery_enabled`, one 0-minute step and a postal
address.

Timed: one worker-like loop, an app context per case like the RQ worker's, calling
`recovery.process(case_id)`: rules, the send-time re-check (`checkout.sessions.list`) and the line
items (`line_items.list`) over real HTTP to the sandbox, claim, render, compose, SMTP through the
process's one reused connection. Then the baseline: the same N messages, parsed from what the sink
received (untimed, in chunks), sent with `smtplib.SMTP.send_message` over one connection to a
fresh sink. Both sinks run in this process (as in the tests), so their cost weighs on both
phases alike; the sandbox runs in a child so its state stays out of this process's RSS.
Checks: each sink got exactly N messages, one per shopper; every send row is `sent`.

Memory: VmRSS every --sample-every emails during the timed loop; `peak_rss_mb` is ru_maxrss at
the end of that loop (the baseline's parsed messages come later). `--emails 100000` is the long
memory check; the sandbox scans all its objects on every request, so its cost grows with N and
such a run takes long. The last line printed is one JSON object.
Targets (informational): ratio >= 0.5; RSS flat and under 200 MB over 100k emails.
"""
from __future__ import annotations

import argparse
import resource
import secrets
import struct
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo root, for `portal`
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # for smtp_sink
import _common as common  # noqa: E402  (bench/ is on sys.path: it holds this script)

TARGET_RATIO = 0.5
SEED_BATCH = 500          # sandbox sessions created, then mirrored, per batch (bounds setup memory)
PLATFORM_KEY = "sk_live_sandbox_platform"
PUBLIC_URL = "https://portal.bench.example"     # https: the messages carry List-Unsubscribe
MAIL_FROM = "Cart Recovery <recovery@portal.bench.example>"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--emails", type=int, default=500,
                        help="due cases to process (= emails); 100000 is the long memory check")
    parser.add_argument("--sample-every", type=int, default=1000, help="emails between RSS samples")
    parser.add_argument("--seed-threads", type=int, default=8,
                        help="concurrent HTTP clients creating the sandbox sessions (setup only)")
    parser.add_argument("--profile", action="store_true",
                        help="run the timed loop under cProfile and print where the time goes")
    parser.add_argument("--profile-lines", type=int, default=45, help="entries per profile table")
    parser.epilog = ("Defaults finish in well under a minute. The sandbox's cost per request grows "
                     "with the number of sessions it holds, so large --emails runs are slow.")
    return parser.parse_args(argv)


# --- memory ---------------------------------------------------------------------------------

def rss_mb() -> float:
    """This process's resident set size now (VmRSS), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def peak_rss_mb() -> float:
    """The largest resident set size this process has had (ru_maxrss is in KB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def slope_per_1000(samples: list[tuple[int, float]]) -> float:
    """Least-squares growth of RSS in MB per 1000 emails (0.0 with fewer than two samples)."""
    if len(samples) < 2:
        return 0.0
    xs, ys = [s[0] for s in samples], [s[1] for s in samples]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / var * 1000 if var else 0.0


# --- the Stripe sandbox (a child process on loopback) ---------------------------------------

def start_sandbox(env: dict, log: Path):
    """`python -m stripe_sandbox` on a free loopback port; (process, base URL)."""
    port = common.free_port()
    proc = common.start([str(common.VENV_BIN / "python"), "-m", "stripe_sandbox", "--host",
                         "127.0.0.1", "--port", str(port)], env, log)
    try:
        common.wait_for_port(port, proc)
    except BaseException:
        common.stop(proc)
        raise
    return proc, f"http://127.0.0.1:{port}"


@dataclass
class Sandbox:
    """Plain HTTP calls to the sandbox, as the platform or as the connected account."""

    base: str
    account: str = ""
    price_ids: list = field(default_factory=list)

    def call(self, http, path: str, data: dict | None = None, as_account: bool = True) -> dict:
        """POST `data` to `path` (form-encoded like the SDK); the JSON answer or RuntimeError."""
        headers = {"Authorization": f"Bearer {PLATFORM_KEY}"}
        if as_account and self.account:
            headers["Stripe-Account"] = self.account
        response = http.post(self.base + path, data=data or {}, headers=headers, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"sandbox {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def set_up_account(self, http) -> dict:
        """A connected Standard account with a shop profile and two products' prices."""
        account = self.call(http, "/v1/accounts", {
            "type": "standard", "email": "owner@bench-shop.example",
            "business_profile[name]": "Bench Coffee", "business_profile[url]": "https://bench.example",
            "business_profile[support_email]": "help@bench.example"}, as_account=False)
        self.account = account["id"]
        for name, amount in (("Single-origin beans, 250 g", 1800), ("Hand grinder", 4500)):
            price = self.call(http, "/v1/prices", {"currency": "usd", "unit_amount": amount,
                                                   "product_data[name]": name})
            self.price_ids.append(price["id"])
        return account

    def expired_session(self, http, email: str) -> dict:
        """A live session (two lines) the shopper filled in with consent, then expired."""
        session = self.call(http, "/v1/checkout/sessions", {
            "mode": "payment", "success_url": "https://bench.example/thanks",
            "line_items[0][price]": self.price_ids[0], "line_items[0][quantity]": 2,
            "line_items[1][price]": self.price_ids[1], "line_items[1][quantity]": 1,
            "consent_collection[promotions]": "auto", "after_expiration[recovery][enabled]": "true"})
        shop = f"/_sandbox/checkout/sessions/{session['id']}"
        self.call(http, f"{shop}/shopper", {"email": email, "promotions_consent": "true",
                                            "name": "Bench Shopper"})
        return self.call(http, f"{shop}/expire")


def create_sessions(sandbox: Sandbox, emails: list[str], threads: int) -> list[dict]:
    """Expired sandbox sessions for `emails`, created over `threads` keep-alive clients."""
    import threading

    import requests

    local = threading.local()

    def one(email: str) -> dict:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        return sandbox.expired_session(local.http, email)

    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        return list(pool.map(one, emails))
    finally:  # on Ctrl-C or an error, queued sessions are dropped, not created first
        pool.shutdown(wait=True, cancel_futures=True)


# --- the portal side ------------------------------------------------------------------------

def seed_merchant(app, account: dict) -> int:
    """A merchant connected (OAuth, live) to the sandbox account, terms accepted, recovery on,
    one step 0 minutes after expiry, a postal address; returns its id."""
    from portal import db
    from portal.models import SendingSettings
    from portal.services import accounts, connections, terms

    profile = account["business_profile"]
    with app.app_context():
        owner = accounts.create_merchant("Bench Coffee", "owner@bench-shop.example", "bench-password-123")
        merchant = owner.merchant
        connections.link_account(merchant, account["id"], livemode=True, method="oauth",
                                 display_name=profile["name"], shop_url=profile["url"],
                                 support_email=profile["support_email"])
        terms.accept(merchant, owner, "127.0.0.1")
        merchant.recovery_enabled = True
        db.session.add(SendingSettings(merchant_id=merchant.id, steps=[{"delay_minutes": 0}],
                                       sender_name="Bench Coffee",
                                       postal_address="Bench Coffee\n1 Loopback Lane\nLocalhost 127"))
        db.session.commit()
        return merchant.id


def mirror_expired(app, merchant_id: int, objects: list[dict]) -> None:
    """Apply `checkout.session.expired` snapshots with the drain's own calls; commit."""
    from portal import db
    from portal.services import cases, consent, sessions

    event_created = datetime.now(timezone.utc) - timedelta(seconds=5)
    with app.app_context():
        mirrors = sessions.apply([sessions.Snapshot(merchant_id, "checkout.session.expired",
                                                    event_created, obj) for obj in objects])
        consent.record(consent.from_sessions(mirrors))
        cases.sync(mirrors)
        db.session.commit()


def seed_cases(app, sandbox_base: str, count: int, threads: int, tag: str) -> tuple[int, list[str]]:
    """The sandbox account and `count` expired sessions, mirrored batch by batch so neither
    side holds all of them at once here; (merchant id, the shoppers' emails)."""
    import requests

    sandbox = Sandbox(sandbox_base)
    with requests.Session() as http:
        account = sandbox.set_up_account(http)
    merchant_id = seed_merchant(app, account)
    emails = [f"shopper{i:06d}.{tag}@example.com" for i in range(count)]
    for start in range(0, count, SEED_BATCH):
        mirror_expired(app, merchant_id, create_sessions(sandbox, emails[start:start + SEED_BATCH], threads))
    return merchant_id, emails


def due_case_ids(app) -> list[int]:
    """Every case due now, oldest first (all of them, unlike the tick's batches of 500)."""
    from sqlalchemy import select

    from portal import db
    from portal.models import RecoveryCase

    with app.app_context():
        return list(db.session.scalars(select(RecoveryCase.id).where(
            RecoveryCase.status.in_(("new", "scheduled")),
            RecoveryCase.next_action_at <= datetime.now(timezone.utc)).order_by(RecoveryCase.id)))


# --- the two timed phases -------------------------------------------------------------------

class StripeTimer:
    """Adds up the wall time of the gateway's two send-time calls (re-check and line items),
    wrapping them in this process only; `restore()` puts the originals back."""

    NAMES = ("later_session_status", "line_items")

    def __init__(self):
        from portal.services import stripe_gateway

        self.module, self.seconds, self.calls = stripe_gateway, 0.0, 0
        self.originals = {name: getattr(stripe_gateway, name) for name in self.NAMES}
        for name, original in self.originals.items():
            setattr(stripe_gateway, name, self._timed(original))

    def _timed(self, original):
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - started
                self.calls += 1
        return timed

    def restore(self) -> None:
        for name, original in self.originals.items():
            setattr(self.module, name, original)


@dataclass
class Phase:
    """What one phase sent, how long the sends took, and what its sink received."""

    label: str
    seconds: float = 0.0
    received: int = 0
    recipients: set = field(default_factory=set)
    outcomes: dict = field(default_factory=dict)
    samples: list = field(default_factory=list)   # (emails so far, VmRSS MB)
    stripe_calls: int = 0          # the portal's send-time Stripe calls, and their wall time
    stripe_seconds: float = 0.0

    @property
    def per_s(self) -> float:
        return self.received / self.seconds if self.seconds else 0.0


def harvest(sink, phase: Phase, spool=None) -> None:
    """Count (and spool, length-prefixed) what the sink received, then let the sink forget it,
    so the sink's list does not grow with N. Called between sends, never during one."""
    batch = sink.messages
    sink.clear()
    for received in batch:
        phase.received += 1
        phase.recipients.update(received.rcpt_tos)
        if spool is not None:
            spool.write(struct.pack("!I", len(received.data)) + received.data)


def run_portal(app, case_ids: list[int], sink, spool, every: int, profiler=None) -> Phase:
    """The timed loop: one app context per case, like the RQ worker; only process() is timed."""
    from portal.services import delivery, recovery

    phase = Phase("portal", samples=[(0, rss_mb())])
    for done, case_id in enumerate(case_ids, 1):
        if profiler is not None:
            profiler.enable()
        started = time.perf_counter()
        with app.app_context():
            outcome = recovery.process(case_id)
        phase.seconds += time.perf_counter() - started
        if profiler is not None:
            profiler.disable()
        phase.outcomes[outcome] = phase.outcomes.get(outcome, 0) + 1
        if done % every == 0 or done == len(case_ids):
            harvest(sink, phase, spool)
            phase.samples.append((done, rss_mb()))
    delivery.close_all()  # QUIT on the worker's one connection
    return phase


def read_chunk(spool, count: int) -> list:
    """Up to `count` spooled messages, parsed into EmailMessage objects (not timed)."""
    from email import message_from_bytes, policy

    messages = []
    while len(messages) < count:
        head = spool.read(4)
        if len(head) < 4:
            break
        messages.append(message_from_bytes(spool.read(struct.unpack("!I", head)[0]), policy=policy.SMTP))
    return messages


def run_baseline(spool_path: Path, chunk: int) -> Phase:
    """The same messages, prebuilt, sent with smtplib over one connection to a fresh sink; only
    the send_message() calls are timed (messages are parsed `chunk` at a time in between)."""
    import smtplib

    from smtp_sink import SmtpSink

    phase = Phase("baseline")
    with SmtpSink() as sink, open(spool_path, "rb") as spool:
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=30) as smtp:
            smtp.ehlo()
            while messages := read_chunk(spool, chunk):
                started = time.perf_counter()
                for message in messages:
                    smtp.send_message(message)
                phase.seconds += time.perf_counter() - started
                harvest(sink, phase)
        phase.outcomes = {"connections": sink.connections}
    return phase


# --- checks, profile, report ----------------------------------------------------------------

def check(database_url: str, emails: list[str], portal: Phase, baseline: Phase) -> dict:
    """What the database and the sinks hold, and whether it is what it should be."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        sends = dict(conn.execute("SELECT status, count(*) FROM email_sends GROUP BY 1").fetchall())
        cases = dict(conn.execute("SELECT coalesce(reason, status), count(*) FROM recovery_cases "
                                  "GROUP BY 1").fetchall())
    n, expected = len(emails), set(emails)
    facts = {"sends": sends, "cases": cases, "portal_received": portal.received,
             "baseline_received": baseline.received,
             "portal_recipients_ok": portal.recipients == expected,
             "baseline_recipients_ok": baseline.recipients == expected}
    facts["ok"] = (portal.received == baseline.received == n and sends == {"sent": n}
                   and facts["portal_recipients_ok"] and facts["baseline_recipients_ok"])
    return facts


def print_profile(profiler, cases: int, lines: int) -> None:
    """Where the timed loop's time went: portal/ functions, then the I/O layers, by cumulative
    time, then the top own-time entries overall."""
    import io
    import pstats

    stats = pstats.Stats(profiler, stream=io.StringIO())
    total = stats.total_tt
    print(f"\n--- cProfile of the timed loop: {total:.2f} s profiled for {cases} cases = "
          f"{total / max(cases, 1) * 1000:.2f} ms per case (profiling overhead included)")
    tables = (("cumulative", r"/portal/", "portal/ functions by cumulative time"),
              ("cumulative", r"stripe/_|requests/|urllib3/|http/client|smtplib|socket|sqlalchemy/"
                             r"engine/base|psycopg/|email/|jinja2/|ssl", "I/O, SDK and library layers "
                                                                          "by cumulative time"),
              ("tottime", None, "own time, everything"))
    for sort, pattern, title in tables:
        out = io.StringIO()
        stats.stream = out
        stats.sort_stats(sort)
        stats.print_stats(*((pattern, lines) if pattern else (25,)))
        body = out.getvalue().split("\n", 1)[-1]
        print(f"\n--- {title}\n" + "\n".join(line for line in body.splitlines()
                                             if line.strip() and "function calls" not in line))


def report(args, portal: Phase, baseline: Phase, facts: dict, peak: float, setup_s: float) -> dict:
    """Print the human lines; return the result object."""
    ratio = portal.per_s / baseline.per_s if baseline.per_s else 0.0
    samples = portal.samples
    print(f"setup (not timed): {args.emails} expired sandbox sessions + due cases in {setup_s:.1f} s")
    print(f"portal  : {portal.received} emails in {portal.seconds:.2f} s = {portal.per_s:.1f} emails/s "
          f"({portal.seconds / max(portal.received, 1) * 1000:.2f} ms each); outcomes {portal.outcomes}")
    without = portal.seconds - portal.stripe_seconds
    print(f"  of which the Stripe re-check + line items over HTTP (sandbox time included): "
          f"{portal.stripe_seconds:.2f} s for {portal.stripe_calls} calls "
          f"({portal.stripe_seconds / max(portal.stripe_calls, 1) * 1000:.2f} ms each); the rest "
          f"{without:.2f} s = {portal.received / without if without > 0 else 0:.1f} emails/s")
    print(f"baseline: {baseline.received} emails in {baseline.seconds:.2f} s = {baseline.per_s:.1f} "
          f"emails/s over {baseline.outcomes.get('connections')} connection(s)")
    print(f"ratio portal/baseline: {ratio:.3f} (target >= {TARGET_RATIO})")
    print("VmRSS during the timed loop (emails: MB): "
          + ", ".join(f"{n}: {mb:.1f}" for n, mb in samples))
    print(f"peak RSS after the timed loop {peak:.1f} MB (ru_maxrss); slope "
          f"{slope_per_1000(samples[1:]):+.3f} MB per 1000 emails (target: flat, < 200 MB at 100k)")
    print(f"send rows {facts['sends']}; cases {facts['cases']}; recipients match: portal "
          f"{facts['portal_recipients_ok']}, baseline {facts['baseline_recipients_ok']}; "
          f"checks {'OK' if facts['ok'] else 'FAILED'}")
    return {"emails_per_s": round(portal.per_s, 1), "baseline_per_s": round(baseline.per_s, 1),
            "ratio": round(ratio, 3), "peak_rss_mb": round(peak, 1), "emails": args.emails,
            "seconds": round(portal.seconds, 3), "stripe_seconds": round(portal.stripe_seconds, 3),
            "emails_per_s_without_stripe": round(portal.received / without, 1) if without > 0 else 0.0,
            "baseline_seconds": round(baseline.seconds, 3),
            "rss_start_mb": round(samples[0][1], 1), "rss_end_mb": round(samples[-1][1], 1),
            "rss_slope_mb_per_1000": round(slope_per_1000(samples[1:]), 3),
            "rss_samples": [[n, round(mb, 1)] for n, mb in samples],
            "peak_rss_run_mb": round(peak_rss_mb(), 1), "profiled": args.profile,
            "checks_ok": facts["ok"]}


def timed_loop(app, case_ids: list[int], args: argparse.Namespace, spool_path: Path, profiler) -> Phase:
    """The portal phase against its own sink, with the Stripe calls timed apart."""
    from smtp_sink import SmtpSink

    with SmtpSink() as sink, open(spool_path, "wb") as spool:
        app.config["SMTP_URL"] = sink.url()
        timer = StripeTimer()
        try:
            portal = run_portal(app, case_ids, sink, spool, args.sample_every, profiler)
        finally:
            timer.restore()
    portal.stripe_calls, portal.stripe_seconds = timer.calls, timer.seconds
    return portal


def measure(env: dict, sandbox_base: str, args: argparse.Namespace, tmp: Path) -> dict:
    """Seed, run both phases, check; the result object."""
    import cProfile

    app = common.make_app({**env, "PUBLIC_URL": PUBLIC_URL, "MAIL_FROM": MAIL_FROM,
                           "STRIPE_SECRET_KEY": PLATFORM_KEY, "STRIPE_API_BASE": sandbox_base,
                           "STRIPE_CONNECT_BASE": sandbox_base})
    seeded = time.perf_counter()
    _, emails = seed_cases(app, sandbox_base, args.emails, args.seed_threads, secrets.token_hex(3))
    case_ids = due_case_ids(app)
    setup_s, setup_peak = time.perf_counter() - seeded, peak_rss_mb()
    print(f"{len(case_ids)} due cases for {len(emails)} shoppers; sandbox at {sandbox_base}")
    profiler = cProfile.Profile() if args.profile else None
    portal = timed_loop(app, case_ids, args, tmp / "messages.spool", profiler)
    peak = peak_rss_mb()
    baseline = run_baseline(tmp / "messages.spool", args.sample_every)
    app.extensions["db_engine"].dispose()
    facts = check(env["DATABASE_URL"], emails, portal, baseline)
    if profiler is not None:
        print_profile(profiler, len(case_ids), args.profile_lines)
    result = report(args, portal, baseline, facts, peak, setup_s)
    print(f"ru_maxrss before the timed loop (setup: migration, seeding): {setup_peak:.1f} MB")
    result["peak_rss_before_loop_mb"] = round(setup_peak, 1)
    return result


def show_log_tail(log: Path, lines: int = 15) -> None:
    """The end of the sandbox's log, to explain a failure."""
    if log.exists():
        tail = log.read_text(errors="replace").splitlines()[-lines:]
        print("sandbox log, last lines:\n  " + "\n  ".join(tail), file=sys.stderr)


def main(argv=None) -> int:
    args = parse_args(argv)
    print(f"{args.emails} due cases: recovery.process over real HTTP to the sandbox and SMTP to a "
          f"loopback sink, then a bare smtplib loop{' (under cProfile)' if args.profile else ''}")
    with common.fresh_environment() as env, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        proc, base = start_sandbox(env, Path(tmp) / "sandbox.log")
        try:
            result = measure(env, base, args, Path(tmp))
        except BaseException:
            show_log_tail(Path(tmp) / "sandbox.log")
            raise
        finally:
            common.stop(proc)
    common.emit(result)
    return 0 if result["checks_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
