"""The subscription CSV import job: whole batches after a crash, the sweep, failures, concurrency."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import func, select

from factories import PASSWORD
from portal import jobs, worker
from portal.db import utcnow
from portal.models import Contact, CsvImport, CsvImportChunk, ImportStatus
from portal.services import stalled, csv_files, csv_imports
from consent_csv_kit import HEADER, held, ledger, rejects


# --- batches, crashes, resuming ----------------------------------------------------------


def _crash_on_second_batch(monkeypatch) -> None:
    """The worker dies while applying the import's second batch (the first is committed)."""
    real, calls = csv_imports.apply_rows, []

    def crash_on_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("worker died")
        return real(*args)

    monkeypatch.setattr(csv_imports, "apply_rows", crash_on_second)


def test_a_crash_mid_file_keeps_whole_batches_and_the_job_resumes(owner, db, monkeypatch):
    monkeypatch.setattr(csv_imports, "BATCH_ROWS", 4)
    monkeypatch.setattr(csv_files, "CHUNK_BYTES", 50)  # lines cross chunk boundaries
    rows = [f"r{n}@example.com,Subscribed,{1698094682 + n}\r\n" for n in range(10)]
    rows[5] = "bad,Subscribed,\r\n"  # line 7, in the second batch
    imp = csv_imports.start_import(
        owner.merchant, owner, "x.csv", io.BytesIO((HEADER + "".join(rows)).encode())
    )
    db.commit()
    _crash_on_second_batch(monkeypatch)
    with pytest.raises(RuntimeError):
        csv_imports.process(imp.id)
    db.rollback()
    assert len(held(db)) == 4 and rejects(db, imp) == []
    imp = db.get(CsvImport, imp.id)
    assert (imp.status, imp.rows_read, imp.next_line) == ("running", 4, 6)
    chunks = select(func.count()).select_from(CsvImportChunk)
    assert db.scalar(chunks) > 0  # kept while the import may resume
    assert csv_imports.process(imp.id) == ImportStatus.DONE
    assert db.scalar(chunks) == 0  # applied: the file is dropped (erasure must not miss it)
    assert csv_imports.process(imp.id) == ImportStatus.DONE  # a second run changes nothing
    db.expire_all()
    imp = db.get(CsvImport, imp.id)
    assert (imp.rows_read, imp.applied, imp.skipped_older, imp.rejected) == (10, 9, 0, 1)
    assert rejects(db, imp) == [
        (7, "not an email address: write one address, like name@example.com")
    ]
    assert len(held(db)) == 9 and len([e for e in ledger(db) if e[2] == "csv"]) == 9


@pytest.mark.parametrize("crash", [False, True])
def test_rows_a_quote_took_in_are_read_again_across_chunks_batches_and_a_crash(
    owner, db, monkeypatch, crash
):
    """Line 3's open quote takes in the lines after it, over several stored chunks and past
    the batch's size: they are read again as rows, and a resumed job reads them again too."""
    monkeypatch.setattr(csv_imports, "BATCH_ROWS", 4)
    monkeypatch.setattr(csv_files, "CHUNK_BYTES", 50)
    rows = [f"q{n}@example.com,Subscribed,{1698094682 + n}\r\n" for n in range(10)]
    rows[1] = 'q1@example.com,Subscribed,"1698094683\r\n'  # line 3
    imp = csv_imports.start_import(
        owner.merchant, owner, "x.csv", io.BytesIO((HEADER + "".join(rows)).encode())
    )
    db.commit()
    if crash:
        _crash_on_second_batch(monkeypatch)
        with pytest.raises(RuntimeError):
            csv_imports.process(imp.id)
        db.rollback()
    assert csv_imports.process(imp.id) == ImportStatus.DONE
    db.expire_all()
    imp = db.get(CsvImport, imp.id)
    assert (imp.rows_read, imp.applied, imp.rejected) == (10, 9, 1)
    assert [line for line, _ in rejects(db, imp)] == [3]
    assert sorted(held(db)) == sorted(f"q{n}@example.com" for n in range(10) if n != 1)


def test_an_import_whose_worker_died_is_restarted_by_the_sweep_and_finishes(
    app, owner, db, redis_conn, monkeypatch
):
    monkeypatch.setattr(csv_imports, "BATCH_ROWS", 4)
    rows = "".join(f"k{n}@example.com,Subscribed,{1698094682 + n}\r\n" for n in range(10))
    imp = csv_imports.start_import(
        owner.merchant, owner, "x.csv", io.BytesIO(HEADER.encode() + rows.encode())
    )
    db.commit()
    real, calls = csv_imports.apply_rows, []

    def killed_on_second(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as a SIGKILL would leave it: no failure handler runs
        return real(*args)

    monkeypatch.setattr(csv_imports, "apply_rows", killed_on_second)
    with pytest.raises(KeyboardInterrupt):
        csv_imports.process(imp.id)
    db.rollback()
    monkeypatch.setattr(csv_imports, "apply_rows", real)
    assert jobs.restart_stalled() == 0  # it moved a moment ago: maybe it still works
    later = utcnow() + stalled.STALL + timedelta(seconds=1)
    monkeypatch.setattr(jobs, "utcnow", lambda: later)
    assert jobs.restart_stalled() == 1 and jobs.restart_stalled() == 0  # once per STALL
    worker.run(app, redis_conn, [Queue("default", connection=redis_conn)], burst=True)
    db.expire_all()
    imp = db.get(CsvImport, imp.id)
    assert (imp.status, imp.rows_read, imp.applied) == ("done", 10, 10)


def test_an_import_that_stopped_moving_says_so_and_what_happens_next(client, owner, login, db):
    login(client, "owner@bean.example", PASSWORD)
    imp = csv_imports.start_import(
        owner.merchant,
        owner,
        "x.csv",
        io.BytesIO((HEADER + "a@example.com,Subscribed,\r\n").encode()),
    )
    imp.status, imp.touched_at = "running", utcnow() - timedelta(minutes=3, seconds=5)
    db.commit()
    fragment = client.get(f"/subscriptions/imports/{imp.id}/progress").get_data(as_text=True)
    assert "No progress for 3 minutes." in fragment
    assert "starts again by itself 5 minutes after its last progress" in fragment
    db.get(CsvImport, imp.id).touched_at = utcnow()
    db.commit()
    fragment = client.get(f"/subscriptions/imports/{imp.id}/progress").get_data(as_text=True)
    assert "No progress" not in fragment


def test_an_import_whose_tries_all_fail_ends_failed_in_words(
    app, owner, db, redis_conn, monkeypatch
):
    from rq import Queue, Retry

    from portal import jobs
    from portal.worker import AppWorker

    # Tries without waits, so that one burst of a real worker runs them all.
    monkeypatch.setattr(jobs, "RETRY", Retry(max=2))
    monkeypatch.setattr(csv_imports, "BATCH_ROWS", 2)
    real, tries = csv_imports.apply_rows, []

    def fail_after_first_batch(*args):
        tries.append(1)
        if len(tries) > 1:
            raise RuntimeError("database is locked")
        return real(*args)

    monkeypatch.setattr(csv_imports, "apply_rows", fail_after_first_batch)
    rows = "".join(f"r{n}@example.com,Subscribed,\r\n" for n in range(5))
    imp = csv_imports.start_import(
        owner.merchant, owner, "x.csv", io.BytesIO((HEADER + rows).encode())
    )
    db.commit()
    queue = Queue("default", connection=redis_conn)
    jobs.enqueue_retried(queue, jobs.process_csv_import, imp.id)
    AppWorker([queue], app=app, connection=redis_conn).work(burst=True)
    db.expire_all()
    imp = db.get(CsvImport, imp.id)
    assert len(tries) == 4  # the first batch, then three failing tries of the second
    assert imp.status == ImportStatus.FAILED and imp.rows_read == 2
    assert imp.error.startswith("The import stopped after 2 rows, and the tries that followed")
    assert "RuntimeError: database is locked" in imp.error
    assert held(db).keys() == {"r0@example.com", "r1@example.com"}


def test_two_imports_at_once_sharing_addresses_never_deadlock(app, owner, db):
    if db.get_bind().dialect.name != "postgresql":
        pytest.skip("row locks of concurrent writers: PostgreSQL")
    import threading

    from portal.services import consent_csv_apply
    from portal.services.consent_csv import Row

    emails = [f"s{n:05d}@example.com" for n in range(4000)]
    orders = {"a": emails, "b": emails[::-1]}  # the same addresses, in opposite orders
    barrier, failures = threading.Barrier(2), []

    def apply(prefix: str) -> None:
        with app.app_context():
            rows = [
                Row(line, email, "subscribed", 1_700_000_000.0 + line)
                for line, email in enumerate(orders[prefix], start=2)
            ]
            try:
                consent_csv_apply.db.session.connection()
                barrier.wait()
                consent_csv_apply.apply_rows(owner.merchant_id, f"{prefix}:", rows)
                consent_csv_apply.db.session.commit()
            except Exception as exc:  # noqa: BLE001 - any failure is the finding
                failures.append(exc)
            finally:
                consent_csv_apply.db.session.remove()

    threads = [threading.Thread(target=apply, args=(p,)) for p in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert failures == []
    assert db.scalar(select(func.count()).select_from(Contact)) == 4000
