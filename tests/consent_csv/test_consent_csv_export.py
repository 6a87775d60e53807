"""Subscription CSV export in Stripe's format, and a download uploaded again changing nothing."""

from __future__ import annotations

import re
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


def test_a_download_edited_to_unsubscribe_applies_though_it_writes_whole_seconds(owner, db):
    """The download writes whole seconds of times held to the microsecond: a row of it changed
    to Unsubscribed, its date kept, is as new as the status held, and an unsubscribe wins."""
    for n in range(4):
        when = T1 + timedelta(seconds=n, microseconds=250_000 + n)
        record(owner, f"q{n}@example.com", ["subscribed", "unsubscribed"][n % 2], when, f"cs{n}")
    run_import(owner, HEADER + "undated@example.com,Subscribed,\r\n")  # held at the upload
    downloaded = export_text(owner)
    edited = downloaded.replace(",Subscribed,", ",Unsubscribed,")
    assert edited.count(",Unsubscribed,") == 5
    assert len(re.findall(r",20\d\d-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00\r\n", edited)) == 5
    imp = run_import(owner, edited, name="edited.csv")
    assert (imp.applied, imp.skipped_older) == (3, 2)
    assert {email: status for email, (status, _at) in held(db).items()} == {
        **{f"q{n}@example.com": "unsubscribed" for n in range(4)},
        "undated@example.com": "unsubscribed",
    }
    # Back to Subscribed with the same whole second: as new, so the unsubscribe stands.
    again = run_import(owner, downloaded, name="downloaded.csv")
    assert (again.applied, again.skipped_older) == (0, 5)
