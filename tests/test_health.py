"""/healthz against the real database and Redis, and against unreachable ones."""

from __future__ import annotations

import socket

import pytest
from redis import Redis
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from portal import db as portal_db
from portal.db import make_engine
from portal.extensions import rq


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"database": "ok", "redis": "ok", "status": "ok"}


def test_redis_down_is_named(client, monkeypatch):
    monkeypatch.setattr(rq, "connection", Redis(port=_closed_port(), socket_connect_timeout=1))
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["database"] == "ok" and body["redis"].startswith("failed: ConnectionError")


def test_database_down_is_named(app, client, monkeypatch):
    bad = make_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/none?connect_timeout=2"
    )
    monkeypatch.setitem(app.extensions, "db_engine", bad)
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["redis"] == "ok" and body["database"].startswith("failed: OperationalError")


def test_healthz_keeps_the_failures_details_for_the_logs(app, client, monkeypatch):
    from portal.web import health

    port, logged = _closed_port(), []
    monkeypatch.setattr(health.log, "warning", lambda *args: logged.append(args[0] % args[1:]))
    monkeypatch.setattr(rq, "connection", Redis(port=port, socket_connect_timeout=1))
    body = client.get("/healthz").get_json()
    assert body["redis"] == "failed: ConnectionError" and str(port) not in str(body)
    assert str(port) in " ".join(logged)


def _figures(text: str) -> dict[str, float]:
    """name{labels} -> value, from Prometheus' text format."""
    return {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line and not line.startswith("#")
    }


def test_metrics_show_the_waiting_work_in_prometheus_text(client, db, redis_conn, monkeypatch):
    from rq import Queue

    from factories import make_owner
    from portal.models import CsvImport, StripeEvent
    from portal.db import utcnow

    monkeypatch.setattr(rq, "connection", redis_conn)
    owner = make_owner("Metric Shop", "metric@example.com")
    for n, status in enumerate(("pending", "pending", "failed", "processed")):
        db.add(
            StripeEvent(
                event_id=f"evt_m{n}",
                source="connect",
                type="checkout.session.expired",
                livemode=True,
                created_at=utcnow(),
                payload="{}",
                status=status,
            )
        )
    db.add(CsvImport(merchant_id=owner.merchant_id, filename="a.csv", sha256="", size_bytes=1))
    db.commit()
    Queue("mail", connection=redis_conn).enqueue("portal.jobs.tick")
    redis_conn.rpush("portal:unsubscribes:held:failed", "{}")
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=")
    figures = _figures(response.get_data(as_text=True))
    assert figures['portal_up{part="database"}'] == figures['portal_up{part="redis"}'] == 1
    assert figures['portal_webhook_events{status="pending"}'] == 2
    assert figures['portal_webhook_events{status="failed"}'] == 1
    assert figures["portal_oldest_pending_event_age_seconds"] >= 0
    assert figures['portal_csv_imports{status="queued"}'] == 1
    assert figures['portal_queue_jobs{queue="mail"}'] == 1
    assert figures['portal_queue_jobs{queue="events"}'] == 0
    assert "portal_workers" in figures
    assert figures['portal_held_unsubscribes{state="waiting"}'] == 0
    assert figures['portal_held_unsubscribes{state="failed"}'] == 1


def test_metrics_say_when_redis_is_down(client, monkeypatch):
    monkeypatch.setattr(rq, "connection", Redis(port=_closed_port(), socket_connect_timeout=1))
    response = client.get("/metrics")
    figures = _figures(response.get_data(as_text=True))
    assert response.status_code == 200
    assert figures['portal_up{part="redis"}'] == 0 and figures['portal_up{part="database"}'] == 1
    assert not any(name.startswith("portal_queue") for name in figures)


def test_metrics_show_emails_waiting_for_a_retry_and_carts_waiting_for_stripe(
    client, db, redis_conn, monkeypatch
):
    import stripe_events as se
    from factories import make_connected
    from portal.models import EmailSend, RecoveryCase
    from portal.services import events

    monkeypatch.setattr(rq, "connection", redis_conn)
    make_connected("acct_1MetricsShop000001")
    for n in range(2):
        assert (
            se.post(client, se.expired(f"cs_live_m{n}", "acct_1MetricsShop000001")).status_code
            == 200
        )
    events.drain()
    first, second = db.scalars(select(RecoveryCase).order_by(RecoveryCase.id)).all()
    first.status, first.attempts = "scheduled", 2  # Stripe did not answer twice
    db.add(
        EmailSend(
            merchant_id=second.merchant_id, case_id=second.id, step=0, to_address="a@example.com",
            status="deferred", message_id="<m@example.com>", attempts=1,
        )
    )  # fmt: skip
    db.commit()
    figures = _figures(client.get("/metrics").get_data(as_text=True))
    assert figures['portal_email_sends{status="deferred"}'] == 1
    assert figures['portal_email_sends{status="claimed"}'] == 0
    assert figures["portal_cases_waiting_on_stripe"] == 1


def test_a_database_that_accepts_and_never_answers_is_given_up_on(monkeypatch):
    """libpq alone would wait for the operating system, minutes; the engine sets a limit."""
    monkeypatch.setattr(portal_db, "CONNECT_TIMEOUT_SECONDS", 2)  # libpq's least
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        port = silent.getsockname()[1]
        engine = portal_db.make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/x")
        with pytest.raises(OperationalError) as refused:
            engine.connect()
        engine.dispose()
    assert "timeout" in str(refused.value).lower()
    told = portal_db.make_engine("postgresql+psycopg://u@127.0.0.1:1/x?connect_timeout=9")
    assert told.url.query["connect_timeout"] == "9"


def test_a_page_waiting_on_a_lock_answers_503_instead_of_hanging(
    app, client, login, monkeypatch, racing
):
    """A migration or a long write holding a table: a page gives up after a bounded wait with
    the busy page (and Retry-After), instead of holding the browser, and a worker, for good."""
    import threading

    from factories import PASSWORD, make_owner
    from portal import web

    make_owner(email="lock@example.com")
    login(client, "lock@example.com", PASSWORD)
    monkeypatch.setattr(web, "LOCK_WAIT", "300ms")
    answer = {}
    holder = app.extensions["db_engine"].connect()
    try:
        holder.exec_driver_sql("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        page = threading.Thread(target=lambda: answer.update(page=client.get("/carts/")))
        page.start()
        page.join(timeout=15)
        answered_while_locked = not page.is_alive()
    finally:
        holder.rollback()
        holder.close()
    page.join()
    assert answered_while_locked
    assert answer["page"].status_code == 503 and answer["page"].headers["Retry-After"] == "5"
    assert "The database is busy with another change" in answer["page"].text
    assert client.get("/carts/").status_code == 200  # the lock gone, the page is back
