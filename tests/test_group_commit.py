"""Group commit: many threads, one statement per batch, every caller told the truth."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

import stripe_events as se
from helpers import run_in_threads
from portal import db as portal_db
from portal.models import EventStatus, StripeEvent
from portal import group_commit
from portal.services import webhooks


def _store_concurrently(events: list[dict], threads: int = 16) -> list[bool]:
    results: list[bool | None] = [None] * len(events)

    def worker(offset: int) -> None:
        for i in range(offset, len(events), threads):
            results[i] = webhooks.store(events[i], "{}", source="connect")

    assert run_in_threads(worker, threads) == []
    return results


def test_concurrent_stores_keep_every_event_once_and_report_duplicates(app, db):
    unique = [se.expired(f"cs_live_{i}", "acct_1") for i in range(300)]
    repeated = unique[:50]  # delivered again while the first copies are being written
    results = _store_concurrently(unique + repeated)
    assert db.scalar(select(func.count()).select_from(StripeEvent)) == 300
    assert results.count(True) == 300 and results.count(False) == 50
    firsts = {e["id"]: results[i] for i, e in enumerate(unique)}
    seconds = {e["id"]: results[300 + i] for i, e in enumerate(repeated)}
    assert all(firsts[k] != seconds[k] for k in seconds)  # exactly one of the two copies is new


def test_a_database_error_reaches_every_caller_of_the_batch(app, monkeypatch):
    from sqlalchemy.exc import OperationalError

    from portal import group_commit

    def broken(self, batch):
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(group_commit.GroupCommitter, "_insert", broken)
    errors = run_in_threads(
        lambda n: webhooks.store(se.expired("cs_live_x", "acct_1"), "{}", source="connect"), 8
    )
    assert len(errors) == 8 and all(isinstance(e, OperationalError) for e in errors)
    assert portal_db.session.get_bind() is app.extensions["db_engine"]


def test_a_killed_writer_connection_answers_503_once_then_reconnects(app, client, db):
    """PostgreSQL only: the committer keeps its own driver connection. When the server drops it
    (a restart, an idle timeout), that batch fails as OperationalError and the next one
    reconnects."""
    import pytest
    from sqlalchemy import text

    from portal import group_commit

    engine = portal_db.bound_engine()
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver connection is PostgreSQL's path")
    assert se.post(client, se.expired("cs_live_A", "acct_1")).status_code == 200
    writer = group_commit.committer(engine, StripeEvent.__table__, "event_id").connection
    pid = writer.info.backend_pid
    with engine.connect() as admin:
        admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        admin.commit()
    refused = se.post(client, se.expired("cs_live_B", "acct_1"))
    assert refused.status_code == 503 and "retry" in refused.get_data(as_text=True)
    retried = se.post(client, se.expired("cs_live_B", "acct_1"))  # Stripe's retry
    assert retried.status_code == 200 and retried.get_data(as_text=True) == "stored\n"
    ids = set(db.scalars(select(StripeEvent.event_id)))
    assert len(ids) == 2


def test_after_the_server_drops_every_connection_webhooks_get_one_503_at_most(app, client, db):
    """PostgreSQL only: the pool holds connections the server killed too; the writer's failure
    renews the pool, so the next webhooks do not draw them one after another."""
    from sqlalchemy import text

    engine = portal_db.bound_engine()
    if engine.dialect.name != "postgresql":
        pytest.skip("the driver connection is PostgreSQL's path")
    assert se.post(client, se.expired("cs_live_W0", "acct_1")).status_code == 200
    held = [engine.connect() for _ in range(4)]  # the pool keeps them when they are returned
    for connection in held:
        connection.execute(text("SELECT 1"))
        connection.close()
    with engine.connect() as admin:
        admin.execute(
            text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
        admin.commit()
    time.sleep(0.2)  # the server's side of the kill
    codes = [se.post(client, se.expired(f"cs_live_W{n}", "acct_1")).status_code for n in range(8)]
    assert codes.count(503) <= 1 and codes[-6:] == [200] * 6, codes


# Values the database or its driver refuses, with the backends that refuse them.
REFUSED = {
    "too long for its column": ({"event_id": "evt_" + "x" * 300}, {"postgresql"}),
    "a NUL in text": ({"type": "customer.created\x00"}, {"postgresql"}),
    "a lone surrogate": ({"event_id": "evt_\ud800"}, {"postgresql", "sqlite"}),
    "no value for a NOT NULL column": ({"type": None}, {"postgresql", "sqlite"}),
}


def _row(event_id: str, **fields) -> dict:
    now = datetime.now(timezone.utc)
    return dict(
        event_id=event_id,
        source="connect",
        account_id="acct_1",
        merchant_id=None,
        type="customer.created",
        livemode=True,
        payload="{}",
        status=EventStatus.IGNORED,
        created_at=now,
        received_at=now,
        attempts=0,
        **fields,
    )


def _first_alone_then_the_rest_together(committer, rows: list[dict]) -> tuple[dict, list]:
    """Insert rows[0] alone and, while it is being written, all other rows: they form the next
    batch, one statement. The results by index, and the errors raised."""
    results, first_started, real_insert = {}, threading.Event(), committer._insert

    def held_first(batch: list[dict]):
        if not first_started.is_set():
            first_started.set()
            deadline = time.monotonic() + 10
            while len(committer.waiting) < len(rows) - 1 and time.monotonic() < deadline:
                time.sleep(0.001)
        return real_insert(batch)

    def call(n: int) -> None:
        if n:
            first_started.wait(10)
        results[n] = committer.insert(rows[n])

    committer._insert = held_first
    try:
        return results, run_in_threads(call, len(rows))
    finally:
        committer._drop_connection()


@pytest.mark.parametrize("refused", REFUSED)
def test_a_row_the_database_refuses_fails_its_own_caller_only(app, db, refused):
    """The others of its batch are written one by one: stored, and told so."""
    fields, backends = REFUSED[refused]
    engine = portal_db.bound_engine()
    if engine.dialect.name not in backends:
        pytest.skip(f"{engine.dialect.name} stores {refused}")
    committer = group_commit.GroupCommitter(engine, StripeEvent.__table__, "event_id")
    rows = [_row(f"evt_good_{n}") for n in range(6)] + [_row("evt_good_2")]  # a duplicate too
    rows[3].update(fields)
    results, errors = _first_alone_then_the_rest_together(committer, rows)
    assert len(errors) == 1 and not isinstance(errors[0], OperationalError), errors
    assert [results[n] for n in (0, 1, 4, 5)] == [True] * 4
    assert sorted([results[2], results[6]]) == [False, True]  # the same event twice: one is new
    stored = set(db.scalars(select(StripeEvent.event_id)))
    assert stored == {f"evt_good_{n}" for n in (0, 1, 2, 4, 5)}


def test_the_database_being_away_fails_the_whole_batch_at_once(app, db, monkeypatch):
    """An OperationalError is no row's fault: every caller hears it (503), nobody retries alone."""
    engine = portal_db.bound_engine()
    committer = group_commit.GroupCommitter(engine, StripeEvent.__table__, "event_id")
    calls = []

    def away(batch):
        calls.append(len(batch))
        if len(calls) > 1:
            raise OperationalError("INSERT", {}, Exception("server closed the connection"))
        return {row["event_id"] for row in batch}

    monkeypatch.setattr(committer, "_insert", away)
    results, errors = _first_alone_then_the_rest_together(
        committer, [_row(f"evt_{n}") for n in range(5)]
    )
    assert results == {0: True} and calls == [1, 4]
    assert len(errors) == 4 and all(isinstance(e, OperationalError) for e in errors)
