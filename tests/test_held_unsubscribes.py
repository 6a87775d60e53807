"""Unsubscribes that arrive while the database is away: held in Redis, applied by the sweep,
one failure set aside, overlapping sweeps losing none; and the sweep's one-line word then."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from sqlalchemy import select

from portal.db import utcnow
from portal.models import ConsentChange, Contact
from portal.services import links
from test_health import _closed_port
from test_links import _path, mailed_send


@pytest.fixture
def send(app, client, db):
    return mailed_send(client, db)


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
