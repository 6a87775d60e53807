"""Two consent changes of one address recorded at once, on two real PostgreSQL connections: the
newer wins whichever commits last (SQLite takes one writer at a time: it cannot race so)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from factories import make_owner
from portal import db as portal_db
from portal.db import utcnow
from portal.models import Contact
from portal.services import consent


def test_an_unsubscribe_made_during_an_older_opt_ins_recording_stands(
    app, db, monkeypatch, database_url
):
    if not database_url.startswith("postgresql"):
        pytest.skip("a race of two connections needs PostgreSQL")
    merchant_id = make_owner("Tea", "tea@example.com").merchant_id
    start = utcnow() - timedelta(hours=3)
    old, opt_in, unsubscribe = (start + timedelta(hours=n) for n in range(3))
    _record(app, consent.Change(merchant_id, "kim@example.com", "unsubscribed", "csv", "a", old))
    # The drain has read the contact (as of `old`) when the shopper's unsubscribe comes in.
    read, go, original = threading.Event(), threading.Event(), consent._move_contact

    def held(*args):
        if threading.current_thread().name == "drain" and not read.is_set():
            read.set()
            go.wait(5)
        return original(*args)

    monkeypatch.setattr(consent, "_move_contact", held)
    older = consent.Change(
        merchant_id, "kim@example.com", "subscribed", "checkout_session", "cs_1", opt_in
    )
    newer = consent.Change(
        merchant_id, "kim@example.com", "unsubscribed", "one_click", "send-1", unsubscribe
    )
    drain = threading.Thread(target=_record, args=(app, older), name="drain")
    drain.start()
    assert read.wait(5)
    click = threading.Thread(target=_record, args=(app, newer), name="click")
    click.start()
    click.join(0.5)  # it waits for the drain's lock (or, without one, has committed)
    go.set()
    drain.join(10), click.join(10)
    db.expire_all()
    contact = db.scalars(select(Contact)).one()
    assert (contact.status, contact.updated_at) == ("unsubscribed", unsubscribe)


def _record(app, change: consent.Change) -> None:
    with app.app_context():
        consent.record([change])
        portal_db.session.commit()
