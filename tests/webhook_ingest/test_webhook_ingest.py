"""The webhook endpoints: storing events once, queueing their drain, and the parts being down."""

from __future__ import annotations

import json
import time

from rq import Queue

import stripe_events as se
from factories import make_owner
from portal import db as portal_db
from portal import jobs
from portal.db import make_engine
from portal.extensions import connect_redis, rq
from portal.models import EventStatus
from test_health import _closed_port
from webhook_ingest_kit import _stored


def test_a_valid_event_is_stored_and_one_drain_job_is_queued(client, db, redis_conn):
    first = se.post(client, se.expired("cs_live_A", "acct_1"))
    second = se.post(client, se.expired("cs_live_B", "acct_1"))
    assert (first.status_code, first.get_data(as_text=True)) == (200, "stored\n")
    assert second.status_code == 200
    rows = _stored(db)
    assert [(r.type, r.status, r.account_id, r.source) for r in rows] == [
        ("checkout.session.expired", "pending", "acct_1", "connect")
    ] * 2
    assert json.loads(rows[0].payload)["data"]["object"]["id"] == "cs_live_A"
    queue = Queue("events", connection=redis_conn)
    _wait_for(lambda: len(queue) > 0)  # the nudge is sent from a background thread
    time.sleep(0.1)
    assert len(queue) == 1  # one drain for both events


def test_the_same_event_three_times_is_stored_once(client, db):
    event = se.expired("cs_live_A", "acct_1")
    answers = [se.post(client, event) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert answers[2].get_data(as_text=True) == "duplicate, already stored\n"
    assert len(_stored(db)) == 1


def test_types_the_portal_ignores_are_stored_as_ignored_and_queue_nothing(client, db, redis_conn):
    from portal.nudger import NUDGE_PAUSE_SECONDS

    time.sleep(NUDGE_PAUSE_SECONDS * 4)  # a nudge left over from an earlier test lands first
    redis_conn.flushdb()
    event = se.expired("cs_live_A", "acct_1")
    event["type"] = "customer.created"
    assert se.post(client, event).status_code == 200
    time.sleep(NUDGE_PAUSE_SECONDS * 4)  # long enough for a nudge, were one (wrongly) asked for
    assert [r.status for r in _stored(db)] == [EventStatus.IGNORED]
    assert len(Queue("events", connection=redis_conn)) == 0


def test_a_nudge_that_fails_on_a_bug_does_not_stop_later_nudges(
    client, db, redis_conn, monkeypatch
):
    """Webhooks skip the nudge while one is pending, so the nudging thread must outlive an
    unexpected error: here one raised while another event asked for a drain."""
    import threading

    from portal.nudger import NUDGE_PAUSE_SECONDS

    time.sleep(NUDGE_PAUSE_SECONDS * 4)  # a nudge left over from an earlier test lands first
    redis_conn.flushdb()
    real, calls, second_posted = jobs.request_drain, [], threading.Event()

    def fails_the_first_time(*args):
        calls.append(args)
        if len(calls) == 1:
            second_posted.wait(5)
            raise TypeError("a bug in the nudge")
        return real(*args)

    monkeypatch.setattr(jobs, "request_drain", fails_the_first_time)
    assert se.post(client, se.expired("cs_live_A", "acct_1")).status_code == 200
    _wait_for(lambda: len(calls) == 1)
    assert se.post(client, se.expired("cs_live_B", "acct_1")).status_code == 200
    second_posted.set()
    queue = Queue("events", connection=redis_conn)
    _wait_for(lambda: len(queue) == 1)
    assert len(calls) == 2 and len(queue) == 1


def _wait_for(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_page_with_the_database_down_says_so_with_503(app, client, login):
    from factories import PASSWORD

    make_owner(email="page@example.com")
    assert login(client, "page@example.com", PASSWORD).status_code == 302
    bad = make_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/none?connect_timeout=2"
    )
    portal_db.session.remove()
    portal_db.session.configure(bind=bad)
    try:
        response = client.get("/team/")  # loading the signed-in user needs the database
    finally:
        portal_db.session.remove()
        portal_db.session.configure(bind=app.extensions["db_engine"])
    assert response.status_code == 503
    assert "cannot reach its database" in response.get_data(as_text=True)


def test_database_down_answers_503_so_stripe_retries(app, client, monkeypatch):
    bad = make_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/none?connect_timeout=2"
    )
    portal_db.session.remove()
    portal_db.session.configure(bind=bad)
    try:
        response = se.post(client, se.expired("cs_live_A", "acct_1"))
    finally:
        portal_db.session.remove()
        portal_db.session.configure(bind=app.extensions["db_engine"])
    assert response.status_code == 503 and "retry" in response.get_data(as_text=True)


def test_redis_down_still_answers_200_and_the_sweep_applies_the_event(
    app, client, db, monkeypatch
):
    from factories import make_connected

    make_connected("acct_1")
    monkeypatch.setattr(rq, "connection", connect_redis(f"redis://127.0.0.1:{_closed_port()}/0"))
    response = se.post(client, se.expired("cs_live_A", "acct_1"))
    assert response.status_code == 200
    assert [r.status for r in _stored(db)] == [EventStatus.PENDING]
    with app.app_context():
        assert jobs.tick()["events_applied"] == 1
    assert [r.status for r in _stored(db)] == [EventStatus.PROCESSED]


def test_a_status_without_an_entry_of_our_own_still_gets_its_reason_phrase(client, monkeypatch):
    """Reason phrases come from http.HTTPStatus: a status nobody listed (413) is no KeyError."""
    from http import HTTPStatus

    from portal.web import webhooks as web

    def too_large(environ):
        raise web.Rejected("body is larger than allowed", 413)

    monkeypatch.setattr(web, "_read_body", too_large)
    response = se.post(client, se.expired("cs_live_A", "acct_1"))
    assert response.status == f"413 {HTTPStatus(413).phrase}"
    assert response.get_data(as_text=True) == "body is larger than allowed\n"


def test_a_page_that_waited_too_long_for_a_write_says_the_database_is_busy(client, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from portal.web import auth

    # What SQLite raises when another writer held its one lock past the busy timeout.
    locked = OperationalError("BEGIN IMMEDIATE", {}, Exception("database is locked"))
    monkeypatch.setattr(auth, "render_template", lambda *a, **k: (_ for _ in ()).throw(locked))
    response = client.get("/login")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "The database is busy with another change" in page and "cannot reach" not in page
