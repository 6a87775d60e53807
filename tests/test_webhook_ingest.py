"""The webhook endpoints: signatures, duplicates, hostile input, and the parts being down."""

from __future__ import annotations

import json
import time

import pytest
from rq import Queue
from sqlalchemy import select

import stripe_events as se
from factories import make_direct, make_owner
from portal import db as portal_db
from portal import jobs
from portal.db import make_engine
from portal.extensions import connect_redis, rq
from portal.models import EventStatus, StripeEvent
from test_health import _closed_port


@pytest.fixture(autouse=True)
def _redis(redis_conn, monkeypatch):
    monkeypatch.setattr(rq, "connection", redis_conn)
    return redis_conn


def _stored(db) -> list[StripeEvent]:
    db.expire_all()
    return list(db.scalars(select(StripeEvent).order_by(StripeEvent.id)))


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


def test_signature_refusals_name_the_problem_and_store_nothing(client, db):
    body = json.dumps(se.expired("cs_live_A", "acct_1"))
    cases = {
        "signature does not match any configured secret": {
            "Stripe-Signature": se.sign(body, "whsec_wrong")
        },
        "more than 300 s old": {
            "Stripe-Signature": se.sign(body, timestamp=int(time.time()) - 301)
        },
        "missing Stripe-Signature header": {"Stripe-Signature": ""},
        "malformed Stripe-Signature header": {"Stripe-Signature": "v1=abc"},
    }
    for reason, headers in cases.items():
        response = se.post(client, body, headers=headers)
        assert response.status_code == 400, reason
        assert reason in response.get_data(as_text=True)
    tampered = se.post(
        client, body.replace("cs_live_A", "cs_live_Z"), headers={"Stripe-Signature": se.sign(body)}
    )
    assert tampered.status_code == 400
    assert _stored(db) == []


def test_a_rolled_secret_with_two_v1_values_is_accepted(client, db):
    body = json.dumps(se.expired("cs_live_A", "acct_1"))
    old = se.sign(body, "whsec_old_secret")
    new = se.sign(body)
    header = old + ",v1=" + new.split("v1=")[1]  # Stripe signs with both while a secret rolls
    assert se.post(client, body, headers={"Stripe-Signature": header}).status_code == 200
    assert len(_stored(db)) == 1


def test_both_secrets_configured_while_the_portal_rolls_its_own(app, client, db, monkeypatch):
    monkeypatch.setitem(
        app.config, "STRIPE_CONNECT_WEBHOOK_SECRET", f"whsec_new_one, {se.CONNECT_SECRET}"
    )
    assert se.post(client, se.expired("cs_live_A", "acct_1")).status_code == 200
    assert (
        se.post(client, se.expired("cs_live_B", "acct_1"), secret="whsec_new_one").status_code
        == 200
    )


@pytest.mark.parametrize(
    "body, content_type, reason",
    [
        ("{not json", "application/json", "body is not valid JSON"),
        ('["an", "array"]', "application/json", "body is not a Stripe event object"),
        (
            '{"object": "event", "id": "evt_1", "type": "x", "created": true, "livemode": true, "data": {"object": {}}}',
            "application/json",
            "event field 'created' is missing or not of type int",
        ),
        (
            '{"object": "event", "id": "evt_1", "type": "x", "created": 1, "livemode": true, "data": {}}',
            "application/json",
            "event field 'data.object' is missing",
        ),
        ('{"object": "event"}', "text/plain", "Content-Type must be application/json"),
        ("x" * 600_000, "application/json", "body is larger than"),
    ],
)
def test_hostile_bodies_get_400_with_a_reason(client, db, body, content_type, reason):
    response = client.post(
        "/webhooks/stripe/connect",
        data=body,
        headers={"Content-Type": content_type, "Stripe-Signature": se.sign(body)},
    )
    assert response.status_code == 400
    assert reason in response.get_data(as_text=True)
    assert _stored(db) == []


def test_non_utf8_bodies_are_refused(client, db):
    body = b'{"object": "event", "id": "\xff"}'
    response = client.post(
        "/webhooks/stripe/connect",
        data=body,
        headers={"Content-Type": "application/json", "Stripe-Signature": "t=1,v1=00"},
    )
    assert response.status_code == 400 and "UTF-8" in response.get_data(as_text=True)


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


def test_direct_endpoint_uses_the_merchants_own_secret(app, client, db):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    path = f"/webhooks/stripe/direct/{owner.merchant_id}"
    event = se.expired("cs_live_A", "acct_1Direct")
    del event["account"]  # direct endpoints get no `account`
    assert se.post(client, event, path=path).status_code == 400  # platform secret: wrong here
    assert se.post(client, event, path=path, secret="whsec_merchant_own").status_code == 200
    (row,) = _stored(db)
    assert (row.source, row.merchant_id, row.account_id) == ("direct", owner.merchant_id, None)
    assert se.post(client, event, path="/webhooks/stripe/direct/999999").status_code == 404


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


def test_only_post_reaches_the_endpoints_and_unknown_paths_are_404(client, db):
    answer = client.get("/webhooks/stripe/connect")
    assert answer.status_code == 405 and answer.headers["Allow"] == "POST"
    assert client.post("/webhooks/stripe/elsewhere", data="{}").status_code == 404
    assert client.post("/webhooks/stripe/direct/abc", data="{}").status_code == 404
    assert _stored(db) == []


def test_a_content_length_that_is_no_number_is_refused(client, db):
    body = json.dumps(se.expired("cs_live_A", "acct_1"))
    response = client.post(
        "/webhooks/stripe/connect",
        data=body,
        environ_overrides={"CONTENT_LENGTH": "12abc"},
        headers={"Content-Type": "application/json", "Stripe-Signature": se.sign(body)},
    )
    assert response.status_code == 400 and "Content-Length" in response.get_data(as_text=True)
    assert _stored(db) == []


@pytest.mark.parametrize(
    "field, value",
    [
        ("id", "evt_" + "x" * 252),
        ("type", "x" * 101),
        ("account", "acct_" + "1" * 60),
        ("account", 12345),
    ],
)
def test_signed_fields_that_do_not_fit_their_columns_are_refused(client, db, field, value):
    event = se.expired("cs_live_A", "acct_1")
    event[field] = value
    response = se.post(client, event)
    assert response.status_code == 400 and repr(field) in response.get_data(as_text=True)
    assert _stored(db) == []


def test_other_pages_still_reach_flask(client):
    assert client.get("/login").status_code == 200


@pytest.mark.parametrize("merchant_id", [2**31 - 1, 2**31, 10**18 - 1])
def test_a_direct_endpoint_for_an_id_beyond_the_id_column_is_404(client, db, merchant_id):
    """Ids are PostgreSQL `integer`s: a larger one names no merchant (it once overflowed the
    column while the secret was looked up, a 500 before any signature check)."""
    body = json.dumps(se.expired("cs_live_A", "acct_1"))
    response = se.post(client, body, path=f"/webhooks/stripe/direct/{merchant_id}")
    assert response.status_code == 404
    assert "no direct-mode Stripe connection" in response.get_data(as_text=True)
    assert portal_db.MAX_ID == 2**31 - 1
    assert _stored(db) == []


def test_a_signature_timestamp_in_the_future_is_refused_beyond_the_tolerance(client, db):
    """Stripe's tolerance bounds clock skew both ways: a header signed for later is a replay
    waiting to happen, a little skew is a clock."""
    body = json.dumps(se.expired("cs_live_A", "acct_1"))
    future = se.post(
        client, body, headers={"Stripe-Signature": se.sign(body, timestamp=int(time.time()) + 400)}
    )
    assert future.status_code == 400
    assert (
        future.get_data(as_text=True) == "signature timestamp is more than 300 s in the future\n"
    )
    assert _stored(db) == []
    skewed = se.post(
        client, body, headers={"Stripe-Signature": se.sign(body, timestamp=int(time.time()) + 60)}
    )
    assert skewed.status_code == 200


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
