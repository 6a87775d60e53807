"""Group commit: many threads, one statement per batch, every caller told the truth."""
from __future__ import annotations

from sqlalchemy import func, select

import stripe_events as se
from helpers import run_in_threads
from portal import db as portal_db
from portal.models import StripeEvent
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

    from portal.services import group_commit

    def broken(self, batch):
        raise OperationalError("INSERT", {}, Exception("server closed the connection"))

    monkeypatch.setattr(group_commit.GroupCommitter, "_insert", broken)
    errors = run_in_threads(lambda n: webhooks.store(se.expired("cs_live_x", "acct_1"), "{}", source="connect"), 8)
    assert len(errors) == 8 and all(isinstance(e, OperationalError) for e in errors)
    assert portal_db.session.get_bind() is app.extensions["db_engine"]


def test_a_killed_writer_connection_answers_503_once_then_reconnects(app, client, db):
    """PostgreSQL only: the committer keeps its own driver connection. When the server drops it
    (a restart, an idle timeout), that batch fails as OperationalError and the next one
    reconnects."""
    import pytest
    from sqlalchemy import text

    from portal.services import group_commit

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
