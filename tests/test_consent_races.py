"""Consent changes written at once by two transactions (real connections to PostgreSQL): the
change expressed last wins, whichever commits last. An event drain that records a checkout's
older opt-in while the shopper's unsubscribe is being written must not overwrite it; erasure
and a CSV import meet the drain without deadlocking."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta

from sqlalchemy import create_engine, select, text

import stripe_events as se
from factories import make_connected, make_owner
from helpers import committing
from portal.db import utcnow
from portal.models import CheckoutSession, ConsentChange, ConsentSource, ConsentStatus, Contact
from portal.models import CsvImport, Merchant
from portal.services import consent, csv_imports, events, shopper, subscriptions, webhooks

ADDRESS = "rae@example.com"
ACCT = "acct_1ConsentRaces00001"


def _opt_in(merchant_id: int, ref: str, at) -> consent.Change:
    source = ConsentSource.CHECKOUT_SESSION
    return consent.Change(merchant_id, ADDRESS, ConsentStatus.SUBSCRIBED, source, ref, at)


def _while_held(app, db, database_url: str, write) -> list[BaseException]:
    """Run `write` (and commit) in a thread while this session holds the rows it wrote; commit
    here once the thread waits for them. The thread's errors."""
    errors = []
    thread = threading.Thread(target=committing(app, write, errors))
    thread.start()
    _until_one_waits_for_a_lock(database_url)
    db.commit()
    thread.join(10)
    assert not thread.is_alive()
    return errors


def _until_one_waits_for_a_lock(database_url: str) -> None:
    """Return once a connection waits for a row lock (the thread reached its write)."""
    engine = create_engine(database_url)
    query = text("SELECT count(*) FROM pg_locks WHERE NOT granted")
    try:
        with engine.connect() as conn:
            for _ in range(200):
                if conn.execute(query).scalar():
                    return
                threading.Event().wait(0.05)
        raise AssertionError("the second write never waited for the first")
    finally:
        engine.dispose()


def test_an_older_opt_in_recorded_while_the_shopper_unsubscribes_never_overwrites_it(
    app, db, database_url, racing
):
    merchant_id = make_owner("Tea", "tea@example.com").merchant_id
    now = utcnow()
    consent.record([_opt_in(merchant_id, "cs_first", now - timedelta(hours=2))])
    db.commit()
    # The shopper's unsubscribe is written (its row held) but not yet committed ...
    shopper.unsubscribe(merchant_id, ADDRESS, ConsentSource.UNSUBSCRIBE_LINK, now)
    db.flush()
    # ... when a drain records a checkout's opt-in given an hour before it.
    older = _opt_in(merchant_id, "cs_older", now - timedelta(hours=1))
    assert _while_held(app, db, database_url, lambda: consent.record([older])) == []
    db.expire_all()
    contact = db.scalars(select(Contact)).one()
    assert (contact.status, contact.updated_at) == (ConsentStatus.UNSUBSCRIBED, now)
    assert db.query(ConsentChange).count() == 3  # the opt-in is in the history all the same


def test_a_repeated_unsubscribe_does_not_date_a_change_recorded_meanwhile(
    app, db, database_url, racing
):
    """A second click within the day moves only its own unsubscribe's date: a CSV row that
    subscribed the address in between keeps its own."""
    merchant_id = make_owner("Tea", "tea@example.com").merchant_id
    now = utcnow()
    shopper.unsubscribe(merchant_id, ADDRESS, ConsentSource.UNSUBSCRIBE_LINK, now)
    db.commit()
    at = now + timedelta(minutes=5)
    row = consent.Change(merchant_id, ADDRESS, "subscribed", ConsentSource.CSV, "csv-1-2", at)
    consent.record([row])
    db.flush()  # written, not committed, when the second click arrives
    later = now + timedelta(minutes=10)

    def second_click():
        shopper.unsubscribe(merchant_id, ADDRESS, ConsentSource.ONE_CLICK, later)

    assert _while_held(app, db, database_url, second_click) == []
    db.expire_all()
    contact = db.scalars(select(Contact)).one()
    # The click came after the CSV row: it is a new unsubscribe, in the ledger, not a repeat.
    assert (contact.status, contact.updated_at) == (ConsentStatus.UNSUBSCRIBED, later)
    assert db.query(ConsentChange).count() == 3


def test_a_drain_during_an_erasure_never_writes_the_address_back(app, db, racing):
    """The erasure keeps drains out until it commits: a batch that read the address as not
    yet erased would record the checkout's opt-in for it again."""
    owner = make_connected(ACCT)
    event = se.expired("cs_live_erased", ACCT, email=ADDRESS)
    assert webhooks.store(event, json.dumps(event), source="connect")
    subscriptions.erase(db.get(Merchant, owner.merchant_id), ADDRESS, app.config["SECRET_KEY"])
    db.flush()  # the erasure is written, not yet committed, when a drain starts
    drained = []
    errors = []
    thread = threading.Thread(
        target=committing(app, lambda: drained.append(events.drain()), errors)
    )
    thread.start()
    thread.join(10)
    assert (errors, drained) == ([], [0])  # nothing applied meanwhile
    db.commit()
    assert events.drain() == 1  # then the event is applied, the address erased
    db.commit()
    assert db.scalars(select(Contact.email)).all() == []
    assert ADDRESS not in db.scalars(select(CheckoutSession.email)).all()


def test_a_csv_batch_during_an_erasure_never_writes_the_address_back(
    app, db, database_url, racing
):
    """The batch reads which addresses are erased only once an erasure in progress commits."""
    owner = make_owner("Tea", "tea@example.com")
    merchant = db.get(Merchant, owner.merchant_id)
    data = f"Email address,Subscription status,Updated at\r\n{ADDRESS},Subscribed,\r\n"
    imp = csv_imports.start_import(merchant, owner, "subs.csv", io.BytesIO(data.encode()))
    db.commit()
    subscriptions.erase(merchant, ADDRESS, app.config["SECRET_KEY"])
    db.flush()  # the erasure is written, not yet committed, when the batch starts
    assert _while_held(app, db, database_url, lambda: csv_imports.process(imp.id)) == []
    db.expire_all()
    assert db.scalars(select(Contact.email)).all() == []
    assert (db.get(CsvImport, imp.id).applied, db.get(CsvImport, imp.id).rejected) == (0, 1)
