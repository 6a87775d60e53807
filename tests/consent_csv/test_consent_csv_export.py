"""Subscription CSV export in Stripe's format, and a download uploaded again changing nothing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.services import consent_csv, consent_export
from consent_csv_kit import HEADER, T1, held, ledger, record, run_import


def export_text(owner) -> str:
    return "".join(consent_export.export_chunks(owner.merchant))


# --- export -------------------------------------------------------------------------------


def test_export_is_stripes_format_in_address_order(owner, db):
    record(owner, "b@example.com", "unsubscribed", T1, "cs_b")
    record(owner, "a@example.com", "subscribed", T1 + timedelta(microseconds=5), "cs_a")
    assert export_text(owner) == (
        HEADER
        + "a@example.com,Subscribed,2023-10-23T20:58:02+00:00\r\n"
        + "b@example.com,Unsubscribed,2023-10-23T20:58:02+00:00\r\n"
    )


def test_export_pages_by_key_over_many_batches(owner, db, monkeypatch):
    monkeypatch.setattr(consent_export, "EXPORT_BATCH", 3)
    run_import(owner, HEADER + "".join(f"u{n:02}@example.com,Subscribed,\r\n" for n in range(10)))
    chunks = list(consent_export._keyset_chunks(owner.merchant))  # the portable path
    lines = "".join(chunks).splitlines()
    assert lines[1:] == sorted(lines[1:]) and len(lines) == 11 and len(chunks) == 4
    # PostgreSQL's COPY path writes exactly the same text.
    assert "".join(consent_export.export_chunks(owner.merchant)) == "".join(chunks)


def test_both_export_paths_write_the_same_cells(owner, db):
    rows = ["=cmd@example.com,Subscribed,2023-10-23T20:58:02Z", "zoé@exämple.com,Unsubscribed,"]
    # "+a" sorts after "*b", but its protected cell "'+a" would sort before: the order is the
    # addresses', not the cells'.
    rows += ["+a@example.com,Subscribed,", "*b@example.com,Subscribed,"]
    run_import(owner, HEADER + "\r\n".join(rows) + "\r\n")
    fast = "".join(consent_export.export_chunks(owner.merchant))
    assert fast == "".join(consent_export._keyset_chunks(owner.merchant))
    assert "'=cmd@example.com,Subscribed,2023-10-23T20:58:02+00:00\r\n" in fast
    assert fast.index("*b@example.com") < fast.index("'+a@example.com")


@pytest.mark.parametrize("start", ["=", "+", "-", "'"])
def test_export_protects_formula_cells_and_reads_them_back(owner, db, start):
    email = f"{start}cmd@example.com"
    record(owner, email, "subscribed", T1)
    text = export_text(owner)
    assert f"'{email},Subscribed" in text
    imp = run_import(owner, text)
    assert (imp.rows_read, imp.applied, imp.skipped_older, imp.rejected) == (1, 0, 1, 0)
    assert consent_csv.safe_cell("@SUM(A1)") == "'@SUM(A1)"
    assert consent_csv.safe_cell("\tx") == "'\tx"


def test_download_then_upload_changes_nothing(owner, db):
    for n in range(20):
        when = T1 + timedelta(hours=n, microseconds=n * 1000)
        record(owner, f"p{n}@example.com", ["subscribed", "unsubscribed"][n % 2], when, f"cs{n}")
    before, ledger_before = held(db), ledger(db)
    imp = run_import(owner, export_text(owner))
    assert (imp.status, imp.rows_read, imp.applied, imp.skipped_older) == ("done", 20, 0, 20)
    assert held(db) == before and ledger(db) == ledger_before
