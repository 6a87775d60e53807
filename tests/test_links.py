"""The links shoppers follow from emails: opaque tokens, the unsubscribe page, hostile tokens."""

from __future__ import annotations

import base64
from contextlib import contextmanager

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select, update

import stripe_events as se
from factories import make_connected
from portal.db import utcnow
from portal.models import ConsentChange, Contact, EmailSend, Merchant, RecoveryCase
from portal.services import events, links
from test_health import _closed_port

ACCT = "acct_1LinksMerchant0001"


@pytest.fixture
def send(app, client, db):
    return mailed_send(client, db)


def mailed_send(client, db) -> EmailSend:
    """A send row for a shopper's expired cart, as the pipeline leaves it."""
    make_connected(ACCT, name="Tea Shop")
    assert (
        se.post(client, se.expired("cs_live_links", ACCT, email="Rae@Example.com")).status_code
        == 200
    )
    events.drain()
    case = db.scalars(select(RecoveryCase)).one()
    row = EmailSend(
        merchant_id=case.merchant_id,
        case_id=case.id,
        step=0,
        status="sent",
        to_address="rae@example.com",
        message_id="<1@test>",
        attempts=1,
    )
    db.add(row)
    db.commit()
    return row


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _signed(app, purpose: str, payload) -> str:
    return URLSafeSerializer(app.config["SECRET_KEY"], salt=f"portal.{purpose}").dumps(payload)


def test_the_unsubscribe_link_carries_no_address_and_unsubscribes_its_shopper(
    app, client, db, send
):
    with app.test_request_context():
        url = links.unsubscribe_link(send.id)
    token = url.rsplit("/", 1)[1]
    decoded = base64.urlsafe_b64decode(token.split(".")[0] + "==")
    assert b"rae" not in decoded.lower() and b"example" not in decoded and b"@" not in decoded
    assert client.head(_path(url)).status_code == 200  # a link scanner's HEAD only asks too
    assert db.scalars(select(Contact.status)).all() == ["subscribed"]
    page = client.get(_path(url))
    shown = page.get_data(as_text=True).replace("<wbr>", "")  # break points in the address
    assert page.status_code == 200 and "rae@example.com" in shown
    assert client.post(_path(url)).status_code == 200
    assert db.scalars(select(Contact.status)).one() == "unsubscribed"


def test_repeated_unsubscribes_add_one_history_entry_but_keep_the_status_newest(
    app, client, db, send
):
    with app.test_request_context():
        path = _path(links.unsubscribe_link(send.id))
    for body in ({}, {"List-Unsubscribe": "One-Click"}, {"List-Unsubscribe": "One-Click"}):
        assert client.post(path, data=body).status_code == 200
    unsubscribes = db.scalars(
        select(ConsentChange.source).where(ConsentChange.status == "unsubscribed")
    ).all()
    assert unsubscribes == ["unsubscribe_link"]
    first = db.scalars(
        select(ConsentChange.occurred_at).where(ConsentChange.status == "unsubscribed")
    ).one()
    db.expire_all()
    contact = db.scalars(select(Contact)).one()
    assert contact.status == "unsubscribed" and contact.updated_at > first


def test_a_shopper_who_left_the_box_unticked_is_told_so_not_that_they_unsubscribed(
    app, client, db, send
):
    contact = db.scalars(select(Contact)).one()
    contact.status, contact.source = "unsubscribed", "checkout_session"
    db.get(Merchant, send.merchant_id).name = "Knitwear & Co."
    db.commit()
    with app.test_request_context():
        path = _path(links.unsubscribe_link(send.id))
    page = client.get(path).get_data(as_text=True)
    assert "You are not subscribed" in page and "left the box for news and offers unticked" in page
    assert "already unsubscribed" not in page and "<form" not in page
    db.execute(update(Contact).values(source="unsubscribe_link"))
    db.commit()
    page = client.get(path).get_data(as_text=True)
    assert "You are already unsubscribed" in page
    assert "from Knitwear &amp; Co.</p>" in page  # one full stop after a name that has one


def test_links_mailed_before_tokens_were_opaque_still_unsubscribe(app, client, db, send):
    token = _signed(app, "unsubscribe", {"m": send.merchant_id, "e": "rae@example.com"})
    assert client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert (
        db.scalars(select(ConsentChange.source).order_by(ConsentChange.id)).all()[-1]
        == "one_click"
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"m": 1, "e": "a" * 250 + "@example.com"},
        {"m": 1, "e": "rae\x00@example.com"},
        {"m": 1, "e": "rae@example.com\r\nX: y"},
        {"m": 1, "e": ["rae@example.com"]},
        {"m": "1", "e": "x@y.z"},
        {"m": 2**31, "e": "rae@example.com"},
        {"m": 10**30, "e": "rae@example.com"},
        {"s": 2**31},
        {"s": -1},
        {"s": True},
        {"s": "1"},
        {"s": 10**40},
        ["s", 1],
        "s",
        None,
        {},
    ],
)
def test_hostile_but_signed_unsubscribe_tokens_get_a_friendly_page_never_a_500(
    app, client, db, send, payload
):
    if isinstance(payload, dict) and payload.get("m") == 1:
        payload = {**payload, "m": send.merchant_id}
    token = _signed(app, "unsubscribe", payload)
    for response in (client.get(f"/u/{token}"), client.post(f"/u/{token}")):
        assert response.status_code == 404 and "This link does not work" in response.get_data(
            as_text=True
        )
    assert db.scalar(select(func.count()).select_from(ConsentChange)) == 1  # the checkout's own


@pytest.mark.parametrize("payload", [{"s": 2**31}, {"s": 10**40}, {"s": "1"}, {"s": None}, [1], 7])
def test_hostile_but_signed_recovery_tokens_get_a_friendly_page(app, client, send, payload):
    response = client.get(f"/r/{_signed(app, 'recovery', payload)}")
    assert response.status_code == 404 and "This link does not work" in response.get_data(
        as_text=True
    )


def test_forged_and_cut_tokens_are_refused(app, client, send):
    with app.test_request_context():
        url = links.unsubscribe_link(send.id)
    for path in (_path(url)[:-3], "/u/eyJzIjoxfQ.forged", "/r/eyJzIjoxfQ.forged"):
        assert client.get(path).status_code == 404
    # Whose shop a broken link was for cannot be told: it speaks the browser's language.
    german = client.get("/r/cut", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert german.status_code == 404 and '<html lang="de">' in german.text
    assert "Dieser Link funktioniert nicht" in german.text
    unknown = client.get("/u/cut", headers={"Accept-Language": "ja"})
    assert '<html lang="en">' in unknown.text and "This link does not work" in unknown.text


def test_the_sample_emails_links_explain_themselves_and_record_nothing(client, db):
    from portal.models import EmailSend

    button = client.get("/r/sample")
    leave = client.get("/unsubscribe/sample")
    assert button.status_code == 200 and "back to their saved" in button.get_data(as_text=True)
    assert leave.status_code == 200 and "no more emails" in leave.get_data(as_text=True)
    assert db.query(EmailSend).count() == 0
    assert client.get("/r/sampl").status_code == 404  # any other token is still checked


@contextmanager
def _database_away(db):
    """The session bound to a loopback port nothing listens on, then bound back."""
    from portal.db import make_engine

    closed = _closed_port()
    engine = db.session_factory.kw["bind"]
    db.remove()
    db.configure(
        bind=make_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{closed}/none?connect_timeout=2"
        )
    )
    try:
        yield
    finally:
        db.remove()
        db.configure(bind=engine)


def test_an_unsubscribe_posted_while_the_database_is_away_is_held_and_applied_later(
    app, client, db, send, redis_conn, monkeypatch
):
    """A mail app posts a one-click unsubscribe once: with the database unreachable (a real
    connection refused, not a mock) it is kept in Redis, then the sweep applies it."""
    from portal import jobs
    from portal.extensions import rq

    with app.test_request_context():
        path = _path(links.unsubscribe_link(send.id))
    monkeypatch.setattr(rq, "connection", redis_conn)
    with _database_away(db):
        assert client.get(path).status_code == 503  # only asking: try again later
        held = client.post(path, data={"List-Unsubscribe": "One-Click"})
        assert held.status_code == 202 and "Your unsubscribe is received" in held.text
        assert "no more news, offers or cart reminders" in held.text  # what it means
        assert client.post("/u/not-a-token").status_code == 404
    assert db.scalars(select(Contact.status)).all() == ["subscribed"]
    with app.app_context():
        assert jobs.tick()["unsubscribes_applied"] == 1
        assert jobs.tick()["unsubscribes_applied"] == 0
    db.expire_all()
    assert db.scalars(select(Contact.status)).one() == "unsubscribed"
    assert db.scalars(select(ConsentChange.source).order_by(ConsentChange.id.desc())).first() == (
        "one_click"
    )


def test_a_held_unsubscribe_that_fails_is_set_aside_and_the_rest_still_apply(
    app, db, send, redis_conn, monkeypatch
):
    """One held item that cannot be applied (here an error injected into its first try) must
    not hold up the others, nor the rest of the sweep, at every tick for good."""
    from portal import jobs
    from portal.extensions import rq
    from portal.services import held_unsubscribes, shopper

    monkeypatch.setattr(rq, "connection", redis_conn)
    with app.test_request_context():
        token = _path(links.unsubscribe_link(send.id)).rsplit("/", 1)[1]
    for source in ("one_click", "unsubscribe_link"):
        held_unsubscribes.hold(redis_conn, token, source, utcnow())
    real, calls = shopper.unsubscribe, []

    def first_fails(*args):
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("injected")
        return real(*args)

    monkeypatch.setattr(shopper, "unsubscribe", first_fails)
    with app.app_context():
        assert jobs.tick()["unsubscribes_applied"] == 2
    db.expire_all()
    assert db.scalars(select(Contact.status)).one() == "unsubscribed"
    assert redis_conn.llen(held_unsubscribes.KEY) == 0
    failed = redis_conn.lrange(f"{held_unsubscribes.KEY}:failed", 0, -1)
    assert len(failed) == 1 and b"one_click" in failed[0]


def test_overlapping_sweeps_of_held_unsubscribes_lose_none(app, db, send, redis_conn, monkeypatch):
    """A sweep that runs long (a slow database) can overlap the next tick's: each held
    unsubscribe must still be applied, none popped by a sweep that never read it."""
    from portal.services import held_unsubscribes, shopper

    with app.test_request_context():
        token = _path(links.unsubscribe_link(send.id)).rsplit("/", 1)[1]
    for source in ("one_click", "unsubscribe_link"):
        held_unsubscribes.hold(redis_conn, token, source, utcnow())
    real, applied = shopper.unsubscribe, []

    def with_a_second_sweep_meanwhile(merchant_id, email, source, at):
        applied.append(source)
        if len(applied) == 1:  # the next tick's sweep starts while this one is busy
            held_unsubscribes.apply_held(redis_conn, limit=1)
        return real(merchant_id, email, source, at)

    monkeypatch.setattr(shopper, "unsubscribe", with_a_second_sweep_meanwhile)
    with app.app_context():
        held_unsubscribes.apply_held(redis_conn)
    assert set(applied) == {"one_click", "unsubscribe_link"}
    assert redis_conn.llen(held_unsubscribes.KEY) == 0


def test_a_sweep_with_the_database_away_says_so_in_one_line(app, db, redis_conn, monkeypatch):
    """The worker's periodic sweep meets an unreachable database (a real refused connection):
    one warning line and an answer, not a traceback every 30 s until it is back."""
    import logging

    from portal import jobs
    from portal.extensions import rq

    monkeypatch.setattr(rq, "connection", redis_conn)
    records = []
    handler = logging.Handler()
    handler.emit = records.append
    logging.getLogger("portal.jobs").addHandler(handler)
    try:
        with _database_away(db), app.app_context():
            assert jobs.tick() == {"database": "unavailable"}
    finally:
        logging.getLogger("portal.jobs").removeHandler(handler)
    [record] = [r for r in records if r.levelno >= logging.WARNING]
    assert "database unavailable" in record.getMessage() and record.exc_info is None
    with app.app_context():
        assert "events_applied" in jobs.tick()  # back: the sweep does its work again
