"""Nothing acknowledged is lost: Redis dying mid-ingestion, a worker killed mid-batch, and the
real signed deliveries of the Stripe sandbox, end to end."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
import stripe
from rq import Queue
from sqlalchemy import func, select, text

import stripe_events as se
from factories import make_connected
from helpers import PrivateRedis
from portal import worker
from portal.extensions import connect_redis, rq
from portal.models import CheckoutSession, Contact, EventStatus, RecoveryCase, StripeEvent
from portal.services import events, webhooks

ACCT = "acct_1ExampleMerchant01"

ROOT = Path(__file__).resolve().parent.parent


def _count(db, status: str) -> int:
    db.expire_all()
    return db.scalar(
        select(func.count()).select_from(StripeEvent).where(StripeEvent.status == status)
    )


@pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="needs redis-server to stop and restart"
)
def test_redis_stopped_during_ingestion_then_restarted_loses_nothing(app, client, db, monkeypatch):
    make_connected(ACCT)
    redis_server = PrivateRedis()
    redis_server.start()
    connection = connect_redis(redis_server.url)  # the portal's own client settings
    monkeypatch.setattr(rq, "connection", connection)
    try:
        before = [se.post(client, se.expired(f"cs_live_before_{i}", ACCT)) for i in range(5)]
        redis_server.stop()
        during = [se.post(client, se.expired(f"cs_live_during_{i}", ACCT)) for i in range(5)]
        assert {r.status_code for r in before + during} == {200}
        redis_server.start()  # back, but empty: the queued drain job is gone
        assert worker.run(
            app,
            connection,
            [Queue("events", connection=connection), Queue("default", connection=connection)],
            burst=True,
        )
    finally:
        redis_server.stop()
    assert _count(db, EventStatus.PROCESSED) == 10 and _count(db, EventStatus.PENDING) == 0
    assert db.scalar(select(func.count()).select_from(RecoveryCase)) == 10


KILLED_WORKER = """
import os, sys, time
from portal import create_app, db
from portal.services import events, webhooks
app = create_app({"PORTAL_ENV": "testing", "DATABASE_URL": os.environ["TEST_DB"]})
real_commit = db.session.commit
def commit_then_hang():
    db.session.flush()  # everything is applied and written, only the commit is missing
    open(os.environ["SIGNAL_FILE"], "w").write("applied")
    time.sleep(60)
db.session.commit = commit_then_hang
with app.app_context():
    events.drain()
"""


def _wait_until_its_locks_are_freed(db) -> None:
    """The server ends a killed worker's session, and frees the rows its batch claimed, once it
    sees the socket close: a moment later under load, and a drain meanwhile skips them."""
    held = text(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE c.relname = 'stripe_events' AND l.pid <> pg_backend_pid()"
    )
    for _ in range(200):
        still = db.scalar(held)
        db.rollback()
        if not still:
            return
        time.sleep(0.05)
    raise AssertionError("the killed worker's locks were never freed")


def test_a_worker_killed_mid_batch_leaves_nothing_applied_or_doubled(
    db, database_url, tmp_path, racing
):
    make_connected(ACCT)
    for i in range(40):  # stored through the service, as the endpoint stores them
        event = se.expired(f"cs_live_{i}", ACCT, email=f"s{i % 7}@example.com")
        webhooks.store(event, json.dumps(event), source="connect")
    db.commit()
    signal_file = tmp_path / "applied"
    env = {
        **os.environ,
        "TEST_DB": database_url,
        "SIGNAL_FILE": str(signal_file),
        "PYTHONPATH": str(ROOT),
    }
    child = subprocess.Popen([sys.executable, "-c", KILLED_WORKER], env=env, cwd=ROOT)
    try:
        for _ in range(300):
            if signal_file.exists() or child.poll() is not None:
                break
            time.sleep(0.05)
        assert signal_file.exists(), "the worker never reached its commit"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert _count(db, EventStatus.PENDING) == 40
    assert db.scalar(select(func.count()).select_from(CheckoutSession)) == 0
    _wait_until_its_locks_are_freed(db)
    assert events.drain() == 40
    assert _count(db, EventStatus.PROCESSED) == 40
    assert db.scalar(select(func.count()).select_from(RecoveryCase)) == 40
    assert db.scalar(select(func.count()).select_from(Contact)) == 7


def _platform_with_a_connected_shop(app, live_server, sandbox_server, monkeypatch):
    """The sandbox platform delivering Connect webhooks to the live server, and Bean Shop
    connected to the portal."""
    platform = stripe.StripeClient(
        sandbox_server.config["PLATFORM_SECRET_KEY"],
        base_addresses={"api": sandbox_server.base, "connect": sandbox_server.base},
    )
    endpoint = platform.v1.webhook_endpoints.create(
        {"url": f"{live_server}/webhooks/stripe/connect", "connect": True, "enabled_events": ["*"]}
    )
    monkeypatch.setitem(app.config, "STRIPE_CONNECT_WEBHOOK_SECRET", endpoint.secret)
    account = platform.v1.accounts.create(
        {"type": "standard", "business_profile": {"name": "Bean Shop"}}
    )
    make_connected(account.id)
    return platform, account


def _a_consenting_shopper_lets_a_checkout_expire(platform, account, base: str):
    """Two bags of beans in a checkout whose shopper ticks the marketing box, then leaves."""
    as_account = {"stripe_account": account.id}
    price = platform.v1.prices.create(
        {"currency": "eur", "unit_amount": 1500, "product_data": {"name": "Beans"}},
        options=as_account,
    )
    session = platform.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 2}],
            "success_url": "https://shop.example/ok",
            "consent_collection": {"promotions": "auto"},
            "after_expiration": {"recovery": {"enabled": True}},
        },
        options=as_account,
    )
    requests.post(
        f"{base}/_sandbox/checkout/sessions/{session.id}/shopper",
        data={"email": "Ines@Example.com", "promotions_consent": "true"},
        timeout=5,
    )
    requests.post(f"{base}/_sandbox/checkout/sessions/{session.id}/expire", timeout=5)
    return session


def test_sandbox_deliveries_end_to_end(
    app, db, live_server, sandbox_server, monkeypatch, redis_conn
):
    monkeypatch.setattr(rq, "connection", redis_conn)
    platform, account = _platform_with_a_connected_shop(
        app, live_server, sandbox_server, monkeypatch
    )
    base = sandbox_server.base
    session = _a_consenting_shopper_lets_a_checkout_expire(platform, account, base)
    assert sandbox_server.extensions["sandbox"].wait_idle(10)
    assert events.drain() == 1
    mirror = db.scalars(select(CheckoutSession)).one()
    assert (mirror.session_id, mirror.email, mirror.consent_promotions) == (
        session.id,
        "ines@example.com",
        "opt_in",
    )
    assert mirror.recovery_url and db.scalars(select(Contact)).one().status == "subscribed"

    landing = requests.get(mirror.recovery_url, timeout=5)  # the shopper clicks the recovery link
    recovered_id = re.search(r"/c/pay/(cs_live_\w+)", landing.url).group(1)
    paid = requests.post(
        f"{base}/_sandbox/checkout/sessions/{recovered_id}/pay",
        timeout=5,
        data={"email": "ines@example.com", "promotions_consent": "true"},
    )
    assert paid.json()["status"] == "complete"
    assert sandbox_server.extensions["sandbox"].wait_idle(10)
    db.rollback()  # end this test's read snapshot, as every worker job starts afresh
    assert events.drain() == 1
    db.expire_all()
    case = db.scalars(select(RecoveryCase)).one()
    assert (case.recovered_session_id, case.recovered_amount, case.recovered_currency) == (
        recovered_id,
        3000,
        "eur",
    )
