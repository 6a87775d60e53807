"""Applying a subscription CSV: last write wins, re-uploads change nothing, erasures stand."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from portal.db import utcnow
from portal.models import CsvImportReject
from portal.services import consent, subscriptions
from portal.services.consent import Change
from consent_csv_kit import HEADER, T1, held, ledger, record, rejects, run_import


# --- last-write-wins ----------------------------------------------------------------------


def test_rows_apply_only_when_newer_in_both_directions(owner, db):
    record(owner, "old@example.com", "subscribed", T1, "cs_old")
    record(owner, "new@example.com", "subscribed", T1, "cs_new")
    imp = run_import(
        owner,
        HEADER
        + "old@example.com,Unsubscribed,2023-10-23T20:00:00Z\r\n"  # older than the checkout
        + "new@example.com,Unsubscribed,2023-10-24T00:00:00Z\r\n",
    )
    assert (imp.applied, imp.skipped_older) == (1, 1)
    assert held(db)["old@example.com"][0] == "subscribed"
    assert held(db)["new@example.com"] == (
        "unsubscribed",
        datetime(2023, 10, 24, tzinfo=timezone.utc),
    )
    # A checkout consent newer than the CSV row wins afterwards.
    record(owner, "new@example.com", "subscribed", datetime(2023, 10, 25, tzinfo=timezone.utc))
    assert held(db)["new@example.com"][0] == "subscribed"
    assert ("new@example.com", "unsubscribed", "csv", f"import:{imp.id}:3") in ledger(db)
    assert not any(e[0] == "old@example.com" and e[2] == "csv" for e in ledger(db))


def test_within_a_file_the_newest_row_of_an_address_wins(owner, db):
    imp = run_import(
        owner,
        HEADER
        + "dup@example.com,Subscribed,2023-10-23T00:00:00Z\r\n"
        + "DUP@example.com ,Unsubscribed,2023-10-25T00:00:00Z\r\n"
        + "dup@example.com,Subscribed,2023-10-24T00:00:00Z\r\n",
    )
    assert held(db)["dup@example.com"][0] == "unsubscribed"
    assert (imp.applied, imp.skipped_older) == (1, 2)


def test_the_same_file_uploaded_twice_changes_nothing_even_undated_rows(owner, db):
    text = HEADER + "a@example.com,Subscribed,\r\nb@example.com,Unsubscribed,1698094682\r\n"
    first = run_import(owner, text)
    before, ledger_before = held(db), ledger(db)
    second = run_import(owner, text, name="again.csv")
    assert (first.applied, second.applied, second.skipped_older, second.unchanged) == (2, 0, 1, 1)
    assert held(db) == before and ledger(db) == ledger_before
    assert before["b@example.com"] == (
        "unsubscribed",
        datetime.fromtimestamp(1698094682, timezone.utc),
    )
    # Undated: the upload's time, plus a microsecond per line (line 2 here).
    assert before["a@example.com"][1] == first.created_at + timedelta(microseconds=2)


def test_an_undated_file_uploaded_again_applies_where_the_status_changed_since(owner, db):
    text = HEADER + "a@example.com,Unsubscribed,\r\nb@example.com,Unsubscribed,\r\n"
    run_import(owner, text)
    record(owner, "a@example.com", "subscribed", utcnow(), "cs_later")  # after the upload
    again = run_import(owner, text, name="again.csv")  # the same file: its lines, its hash
    # b@ was unsubscribed already: unchanged, not "older" (the row has no date)
    assert (again.applied, again.skipped_older, again.unchanged) == (1, 0, 1)
    assert held(db)["a@example.com"] == (
        "unsubscribed",
        again.created_at + timedelta(microseconds=2),
    )
    assert [e[:3] for e in ledger(db) if e[0] == "b@example.com"] == [
        ("b@example.com", "unsubscribed", "csv")
    ]
    # a@'s line 2 moved it twice, once in each upload: two entries, each its own.
    assert [e[2:] for e in ledger(db) if e[0] == "a@example.com"] == [
        ("checkout_session", "cs_later"),
        ("csv", f"import:{again.id - 1}:2"),
        ("csv", f"import:{again.id}:2"),
    ]


def test_an_undated_row_never_subscribes_again_a_shopper_who_unsubscribed(owner, db):
    """No date is no proof that they said yes since: only a dated row (newer) may."""
    for email, source in (("link@x.io", "unsubscribe_link"), ("hand@x.io", "manual")):
        consent.record([Change(owner.merchant_id, email, "unsubscribed", source, "e", T1)])
    db.commit()
    undated = run_import(owner, HEADER + "link@x.io,Subscribed,\r\nhand@x.io,Subscribed,\r\n")
    assert (undated.applied, undated.skipped_older, undated.unchanged) == (1, 0, 1)
    assert held(db)["link@x.io"] == ("unsubscribed", T1)
    assert held(db)["hand@x.io"][0] == "subscribed"  # the merchant's own no: theirs to undo
    dated = run_import(owner, HEADER + "link@x.io,Subscribed,2024-01-01T00:00:00Z\r\n")
    assert dated.applied == 1 and held(db)["link@x.io"][0] == "subscribed"


def test_of_a_row_and_a_status_dated_alike_the_unsubscribe_wins(owner, db):
    record(owner, "sub@example.com", "subscribed", T1, "cs_sub")
    record(owner, "unsub@example.com", "unsubscribed", T1, "cs_unsub")
    at = T1.isoformat()
    imp = run_import(
        owner, f"{HEADER}sub@example.com,Unsubscribed,{at}\nunsub@example.com,Subscribed,{at}\n"
    )
    assert (imp.applied, imp.skipped_older) == (1, 1)
    assert held(db) == {
        "sub@example.com": ("unsubscribed", T1),
        "unsub@example.com": ("unsubscribed", T1),
    }


def test_an_erased_address_is_not_created_again(owner, db, app):
    record(owner, "gone@example.com", "subscribed", T1, "cs_gone")
    with app.app_context():
        subscriptions.erase(owner.merchant, "gone@example.com", app.config["SECRET_KEY"])
        db.commit()
        imp = run_import(  # the job runs in an app context: the hash is keyed with its secret
            owner,
            HEADER
            + "GONE@example.com ,Subscribed,2030-01-01T00:00:00Z\r\n"
            + "kept@example.com,Subscribed,\r\n"
            + "gone@example.com,Unsubscribed,\r\n",
        )
    assert rejects(db, imp) == [
        (2, "this address was erased on request"),
        (4, "this address was erased on request"),
    ]
    assert (imp.rows_read, imp.applied, imp.skipped_older, imp.rejected) == (3, 1, 0, 2)
    assert list(held(db)) == ["kept@example.com"]
    assert [e[0] for e in ledger(db)] == ["kept@example.com"]
    assert "gone" not in "".join(r.value for r in db.scalars(select(CsvImportReject)))


def test_a_row_dated_in_the_future_is_rejected_and_an_unsubscribe_still_wins(owner, db):
    soon = datetime.now(timezone.utc) + timedelta(minutes=3)  # within the clocks' slack
    imp = run_import(
        owner,
        f"{HEADER}a@example.com,Subscribed,9999-12-31T00:00:00Z\n"
        f"b@example.com,Subscribed,{soon.isoformat()}\n",
    )
    assert rejects(db, imp) == [
        (
            2,
            "dated in the future (9999-12-31 00:00 UTC): a row may not be dated after its "
            "upload. A local time needs its offset, e.g. 2023-10-23T20:58:02+02:00",
        )
    ]
    # Within the slack, but still after the upload: dated at the upload, so that a change
    # made after it (here, by hand) is not outranked by the row until its date.
    assert held(db) == {"b@example.com": ("subscribed", imp.created_at)}
    assert subscriptions.change(
        owner.merchant, owner, "b@example.com", "unsubscribed", utcnow(), "secret"
    )
    db.commit()
    assert held(db)["b@example.com"][0] == "unsubscribed"
    record(owner, "a@example.com", "subscribed", T1)
    consent.record(
        [Change(owner.merchant_id, "a@example.com", "unsubscribed", "one_click", "e1", utcnow())]
    )
    db.commit()
    assert held(db)["a@example.com"][0] == "unsubscribed"


def test_lines_ending_with_a_carriage_return_alone_are_read(owner, db):
    imp = run_import(owner, "Email address,Subscription status\ra@example.com,Subscribed\rbad,x\r")
    assert held(db).keys() == {"a@example.com"}
    assert rejects(db, imp) == [
        (3, "not an email address: write one address, like name@example.com")
    ]


def test_without_an_updated_at_column_rows_apply_at_the_upload(owner, db):
    imp = run_import(owner, "Email address,Subscription status\nA@Example.com,Subscribed\n")
    at = imp.created_at + timedelta(microseconds=2)  # the upload's time, then line 2's place
    assert held(db) == {"a@example.com": ("subscribed", at)}
