"""Shared helpers for the benchmarks: a throw-away PostgreSQL database and Redis database, the
portal's environment, a seeded connected merchant, realistic signed Stripe events, processes.

Not a benchmark itself: `make bench` runs every bench/*.py, so running this file only prints a note.
"""

from __future__ import annotations

import base64
import copy
import json
import math
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

# bench/ holds csv.py, and a script's own folder comes first on sys.path: there, `import csv`
# anywhere (the portal's CSV code too) would load that script instead of the standard library's
# module. So bench/ moves to the end, after the standard library's csv is loaded and cached.
HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
import csv  # noqa: E402,F401  (the standard library's, cached for every later import)

sys.path.append(str(HERE))
REPO = HERE.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

VENV_BIN = REPO / ".venv" / "bin"
PG_ADMIN_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
CONNECT_SECRET = "whsec_bench_connect_secret"
ACCOUNT_ID = "acct_1BenchMerchant000001"
EXAMPLES = REPO / "tests" / "data" / "stripe"


# --- database and Redis -------------------------------------------------------------------


def _admin(sql: str) -> None:
    """Run one statement on the maintenance database, outside a transaction."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql)


def _flush_redis() -> None:
    from redis import Redis

    conn = Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        conn.flushdb()
    finally:
        conn.close()


@contextmanager
def fresh_environment():
    """Yield the portal's environment (a dict) on a new, migrated PostgreSQL database and an
    empty Redis database; the database is dropped and Redis emptied afterwards, even on error."""
    from portal import db

    name = f"bench_{secrets.token_hex(6)}"
    base_url = PG_ADMIN_URL.rsplit("/", 1)[0]
    _flush_redis()
    _admin(f'CREATE DATABASE "{name}"')
    try:
        env = portal_env(f"{base_url}/{name}")
        db.upgrade(env["DATABASE_URL"])
        yield env
    finally:
        try:
            db.session.remove()
        finally:
            _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            _flush_redis()


@contextmanager
def workspace():
    """(environment, folder): fresh_environment()'s, and a temporary folder for logs and files;
    both removed afterwards, even on error."""
    with fresh_environment() as env, tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        yield env, Path(tmp)


def portal_env(database_url: str) -> dict:
    """os.environ plus the production settings the portal needs, for this process and children."""
    key = base64.urlsafe_b64encode(os.urandom(32)).decode()
    return {
        **os.environ,
        "PORTAL_ENV": "production",
        "SECRET_KEY": secrets.token_hex(32),
        "ENCRYPTION_KEY": key,
        "PUBLIC_URL": "http://127.0.0.1",
        # Required in production; nothing listens there: a benchmark that sends sets its sink's.
        "SMTP_URL": "smtp://127.0.0.1:9",
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_SECRET,
        "FLASK_APP": "wsgi",
        "PYTHONUNBUFFERED": "1",
    }


def make_app(env: dict):
    """The real portal app in this process, configured like the child processes."""
    from portal import config, create_app

    names = set(config.Config.__dataclass_fields__) - {"extra"}
    return create_app({k: v for k, v in env.items() if k in names})


def seed_merchant(app) -> int:
    """Create a merchant connected (OAuth, live) to ACCOUNT_ID; returns its id."""
    from portal import db
    from portal.services import accounts, connections

    with app.app_context():
        owner = accounts.create_merchant("Bench Shop", "owner@bench.example", "bench-password-123")
        connections.link_account(
            owner.merchant, ACCOUNT_ID, livemode=True, method="oauth", display_name="Bench Shop"
        )
        db.session.commit()
        return owner.merchant_id


# --- events -------------------------------------------------------------------------------

_examples: dict[str, dict] = {}


def example(name: str) -> dict:
    """A deep copy of Stripe's example event tests/data/stripe/event-NAME.json."""
    if name not in _examples:
        _examples[name] = json.loads((EXAMPLES / f"event-{name}.json").read_text())
    return copy.deepcopy(_examples[name])


def expired_event(
    event_id: str, session_id: str, email: str, created: int, consent: str = "opt_in"
) -> dict:
    """A Connect `checkout.session.expired` event for ACCOUNT_ID, like Stripe sends it."""
    event = example("checkout.session.expired")
    event.update(id=event_id, account=ACCOUNT_ID, created=created)
    obj = event["data"]["object"]
    obj.update(
        id=session_id,
        created=created - 86400,
        expires_at=created - 1,
        consent={"promotions": consent, "terms_of_service": None},
    )
    obj["customer_details"]["email"] = email
    return event


def completed_event(
    event_id: str,
    session_id: str,
    email: str,
    created: int,
    recovered_from: str | None,
    amount: int = 4800,
) -> dict:
    """A paid Connect `checkout.session.completed` event, optionally recovering a session."""
    event = example("checkout.session.completed-recovered")
    event.update(
        id=event_id, account=ACCOUNT_ID, created=created, type="checkout.session.completed"
    )
    obj = event["data"]["object"]
    obj.update(
        id=session_id,
        created=created - 600,
        recovered_from=recovered_from,
        amount_total=amount,
        amount_subtotal=amount,
        payment_status="paid",
        status="complete",
    )
    obj["customer_details"]["email"] = email
    return event


def sign(body: str, secret: str = CONNECT_SECRET, timestamp: int | None = None) -> str:
    """A valid Stripe-Signature header for `body`, as Stripe computes it."""
    from stripe import WebhookSignature

    return WebhookSignature.generate_signature_header(body, secret, timestamp)


# --- processes and numbers ----------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str], env: dict, log_path: Path | None = None) -> subprocess.Popen:
    """Start a child in its own process group (so its own children can be stopped with it)."""
    out = open(log_path, "wb") if log_path else subprocess.DEVNULL
    try:
        return subprocess.Popen(
            args, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    finally:
        if log_path:
            out.close()


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    """Stop a child started by start() and its process group: TERM, then KILL after `grace`."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)  # the group id is the child's pid (start_new_session)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Return once 127.0.0.1:`port` accepts connections; RuntimeError if `proc` dies first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def percentile(sorted_values: list[float], pct: float) -> float:
    """The nearest-rank percentile of already sorted values (0.0 when there are none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(pct / 100 * len(sorted_values))))
    return sorted_values[rank - 1]


def emit(result: dict) -> None:
    """Print the result as the last line: exactly one JSON object."""
    print(json.dumps(result, sort_keys=False), flush=True)


if __name__ == "__main__":
    print("bench/_common.py holds shared helpers for the benchmarks; nothing to run.")
