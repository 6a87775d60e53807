"""Hostile and odd subscription CSV rows, and what the rest of the list does with what they
leave: one address rule for the upload and the forms, erasure reaching rejected rows, dates
before 1970, ties within a file, quotes left open, stray carriage returns."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from helpers import csrf_token
from portal import db as portal_db
from portal.extensions import rq
from portal.models import Contact, CsvImport, CsvImportReject, SendingSettings
from portal.services import csv_imports, subscriptions
from portal.services.consent_csv import unix_time

HEADER = "Email address,Subscription status,Updated at\r\n"


@pytest.fixture(autouse=True)
def _queue(redis_conn, monkeypatch):
    monkeypatch.setattr(rq, "connection", redis_conn)


def run_import(owner, text: str) -> CsvImport:
    imp = csv_imports.start_import(owner.merchant, owner, "subs.csv", io.BytesIO(text.encode()))
    portal_db.session.commit()
    csv_imports.process(imp.id)
    return portal_db.session.get(CsvImport, imp.id)


def rejects(imp: CsvImport) -> list[tuple[int, str, str]]:
    rows = portal_db.session.scalars(
        select(CsvImportReject)
        .where(CsvImportReject.import_id == imp.id)
        .order_by(CsvImportReject.line)
    )
    return [(r.line, r.value, r.reason) for r in rows]


def status_of(owner, email: str) -> str | None:
    portal_db.session.expire_all()
    contact = subscriptions.held_contact(owner.merchant, email)
    return contact and contact.status


def post(client, path: str, **data):
    page = "/subscriptions/customer?email=x@example.com"
    data["csrf_token"] = csrf_token(client, page)
    return client.post(path, data=data, follow_redirects=True)


@pytest.mark.parametrize(
    "date", ["0001-01-01T00:00:00Z", "0001-01-01T00:00:00-01:00", "1969-12-31T23:59:59Z"]
)
def test_a_date_before_1970_is_rejected_and_the_pages_still_work(client, owner, date):
    imp = run_import(owner, f"{HEADER}old@example.com,Subscribed,{date}\r\n")
    assert rejects(imp) == [
        (
            2,
            "old@example.com",
            f"date “{date}” is before 1970: give the date the address said yes or no",
        )
    ]
    assert client.get("/subscriptions").status_code == 200
    assert client.get("/subscriptions/customer?email=old@example.com").status_code == 200


def test_the_epoch_itself_is_a_date():
    assert unix_time("1970-01-01T00:00:00Z") == 0.0


def test_eight_digits_are_a_date_in_iso_basic_form_not_a_second_of_1970():
    assert unix_time("20231023") == datetime(2023, 10, 23, tzinfo=timezone.utc).timestamp()
    assert unix_time("1698094682") == 1698094682.0  # ten digits: a Unix time
    with pytest.raises(ValueError):
        unix_time("20231399")  # no 99th of the 13th month


def test_a_unix_time_in_milliseconds_is_named(owner):
    imp = run_import(owner, f"{HEADER}ms@example.com,Subscribed,1698094682000\r\n")
    [(_, _, reason)] = rejects(imp)
    assert "in milliseconds? Give it in seconds" in reason


@pytest.mark.parametrize("email", ["o'brien@example.com", "a&b@example.com", "q?b@example.com"])
def test_an_address_the_upload_takes_can_be_changed_and_erased_by_hand(client, owner, email):
    run_import(owner, f"{HEADER}{email},Subscribed,2021-01-01T00:00:00Z\r\n")
    assert status_of(owner, email) == "subscribed"
    changed = post(client, "/subscriptions/customer/status", email=email, status="unsubscribed")
    assert "Unsubscribed: recorded as changed by you." in changed.get_data(as_text=True)
    assert status_of(owner, email) == "unsubscribed"
    erased = post(client, "/subscriptions/customer/erase", email=email, confirm="y")
    assert "was erased" in erased.get_data(as_text=True)
    assert status_of(owner, email) is None


@pytest.mark.parametrize(
    "email", ["a,b@example.com", "semi;x@example.com", "rtl\u202egro@example.com", "z\u200b@x.com"]
)
def test_the_forms_refuse_what_the_upload_refuses(client, owner, email):
    refused = post(client, "/subscriptions/customer/status", email=email, status="subscribed")
    assert "Enter a complete email address" in refused.get_data(as_text=True)
    assert status_of(owner, email) is None


def test_erasing_an_address_removes_every_rejected_row_that_holds_it(client, owner):
    imp = run_import(
        owner,
        "Email address,Updated at,Subscription status\r\n"
        "er@example.com,2020-01-01\r\n"  # a missing cell: the row is kept as written
        "'=er@example.com,2020-01-01,Maybe\r\n"
        " ER@EXAMPLE.COM ,2020-01-01,Maybe\r\n"
        "other@example.com,2020-01-01,Maybe\r\n"  # holds er@example.com, but is not it
        "er@example.com.au,2020-01-01,Maybe\r\n",
    )
    assert len(rejects(imp)) == 5
    post(client, "/subscriptions/customer/erase", email="er@example.com", confirm="y")
    portal_db.session.expire_all()
    assert [value for _, value, _ in rejects(imp)] == ["other@example.com", "er@example.com.au"]


def test_a_leading_apostrophe_is_a_spreadsheets_text_mark(app, client, owner):
    run_import(owner, f"{HEADER}'plain@example.com,Subscribed,\r\n")
    assert status_of(owner, "plain@example.com") == "subscribed"
    post(client, "/subscriptions/customer/erase", email="plain@example.com", confirm="y")
    with app.app_context():  # the job keys the erased addresses' hashes with the app's secret
        imp = run_import(owner, f"{HEADER}'plain@example.com,Subscribed,\r\n")
    assert [reason for _, _, reason in rejects(imp)] == ["this address was erased on request"]
    assert status_of(owner, "'plain@example.com") is None


@pytest.mark.parametrize("batch_rows", [20_000, 3])  # the same batch, or batches apart
@pytest.mark.parametrize(
    "date, first, last, wins",
    [
        ("", "Subscribed", "Unsubscribed", "unsubscribed"),
        ("", "Unsubscribed", "Subscribed", "subscribed"),
        ("2023-10-23T20:58:02Z", "Subscribed", "Unsubscribed", "unsubscribed"),
        ("2023-10-23T20:58:02Z", "Unsubscribed", "Subscribed", "unsubscribed"),
    ],
)
def test_an_address_twice_gets_the_same_status_however_far_apart(
    owner, monkeypatch, batch_rows, date, first, last, wins
):
    # Undated rows apply in file order: the last wins. Of two dated alike, the unsubscribe.
    monkeypatch.setattr(csv_imports, "BATCH_ROWS", batch_rows)
    fill = "".join(f"f{n}@example.com,Subscribed,{date}\r\n" for n in range(5))
    text = f"{HEADER}e1@example.com,{first},{date}\r\n{fill}e1@example.com,{last},{date}\r\n"
    imp = run_import(owner, text)
    assert status_of(owner, "e1@example.com") == wins
    assert imp.applied + imp.skipped_older == 7 and imp.rejected == 0


def test_a_quote_left_open_says_where_the_row_ran_to(owner):
    imp = run_import(
        owner,
        HEADER
        + "x1@example.com,Subscribed,\r\n"
        + '"x2@example.com,Subscribed,\r\n'
        + 'a note",Subscribed,\r\n'
        + "x4@example.com,Subscribed,\r\n",
    )
    [(line, _, reason)] = rejects(imp)
    assert line == 3
    assert reason.endswith(
        "(a quoted cell carries this row on to line 4: if it should not, check for a quote that "
        "is not closed)"
    )
    assert (imp.rows_read, imp.applied) == (3, 2)


@pytest.mark.parametrize("column", ["email", "ignored"])
def test_a_quote_left_open_never_swallows_the_rows_after_it(owner, column):
    """The rows a quote left open took in are read as rows; its own line is rejected, whether
    the quote is in a column the import reads or in one it ignores."""
    first = (
        '"nq0@example.com,Subscribed,'
        if column == "email"
        else 'nq0@example.com,Subscribed,"said ""hi'
    )
    text = "Email address,Subscription status,Notes\n" + first + "\n"
    text += "nq1@example.com,Subscribed,ok\nnq2@example.com,Unsubscribed,ok\n"
    imp = run_import(owner, text + '"nq3@example.com",Subscribed,ok\n')
    [(line, value, reason)] = rejects(imp)
    assert (line, value) == (2, first) and reason.startswith("a quote on this line is not closed")
    assert (imp.rows_read, imp.applied, imp.rejected) == (4, 3, 1)
    assert [status_of(owner, f"nq{i}@example.com") for i in (1, 2, 3)] == [
        "subscribed",
        "unsubscribed",
        "subscribed",
    ]


def test_a_quote_left_open_before_a_long_file_loses_no_row(owner):
    """Past the csv module's cell limit the open quote was an error, and the rows it had taken
    in were neither applied nor counted."""
    rows = "".join(f"oq{i:05}@example.com,Subscribed,\n" for i in range(10_000))
    imp = run_import(owner, HEADER + 'a@example.com,Subscribed,"open\n' + rows)
    assert [(line, reason[:33]) for line, _, reason in rejects(imp)] == [
        (2, "a quote on this line is not close")
    ]
    assert (imp.rows_read, imp.applied, imp.rejected) == (10_001, 10_000, 1)


def test_a_carriage_return_inside_a_row_is_explained_in_words(owner):
    imp = run_import(owner, f"{HEADER}t1@example.com,Subscribed,\rt2@example.com,Subscribed,\r\n")
    [(_, _, reason)] = rejects(imp)
    assert reason == (
        "unreadable CSV: a carriage return (CR) inside the row: save the file with ordinary "
        "line endings"
    )
    assert "universal-newline" not in reason


def test_a_line_of_spaces_is_no_row(owner):
    imp = run_import(owner, f"{HEADER}a@example.com,Subscribed,\r\n   \r\n , ,\r\n")
    assert rejects(imp) == []
    assert (imp.rows_read, imp.applied) == (1, 1)


def test_the_privacy_export_says_who_made_each_change(client, owner):
    run_import(owner, f"{HEADER}ola@example.com,Subscribed,2021-01-01T00:00:00Z\r\n")
    post(client, "/subscriptions/customer/status", email="ola@example.com", status="unsubscribed")
    response = client.get("/subscriptions/customer/export.json?email=ola@example.com")
    history = json.loads(response.get_data(as_text=True))["consent_history"]
    assert [(c["source_in_words"], c["by"]) for c in history] == [
        ("CSV upload", "owner@example.com: “subs.csv”, line 2"),
        ("Changed by hand", "owner@example.com"),
    ]


def test_a_date_held_from_before_this_check_still_shows_west_of_utc(client, owner):
    """Rows of year 1 may be held from uploads made before 1970 was the floor."""
    portal_db.session.add(
        SendingSettings(merchant_id=owner.merchant_id, timezone="America/New_York")
    )
    portal_db.session.add(
        Contact(
            merchant_id=owner.merchant_id,
            email="old@example.com",
            status="subscribed",
            updated_at=datetime(1, 1, 1, tzinfo=timezone.utc),
            source="csv",
        )
    )
    portal_db.session.commit()
    listing = client.get("/subscriptions")
    assert listing.status_code == 200 and "Jan 1, 1, 00:00 UTC" in listing.get_data(as_text=True)
    assert client.get("/subscriptions/customer?email=old@example.com").status_code == 200


def test_the_privacy_export_of_a_non_latin_address_downloads(client, owner):
    email = "李@例え.jp"
    post(client, "/subscriptions/customer/status", email=email, status="unsubscribed")
    response = client.get("/subscriptions/customer/export.json", query_string={"email": email})
    assert response.status_code == 200
    assert json.loads(response.get_data(as_text=True))["email"] == email
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="customer-_@__.jp.json"')
    assert "filename*=UTF-8''customer-%E6%9D%8E%40%E4%BE%8B%E3%81%88.jp.json" in disposition


def test_a_rejected_cell_is_shown_isolated_with_its_control_characters_written_out(owner, client):
    text = HEADER + "a\u202eb@example.com,Subscribed,\r\nx\x01y@example.com,Subscribed,\r\n"
    text += "c@example.com,sub\u202escribed\x1b,\r\n"  # a bad status, quoted in the reason
    text += '"' + "z" * 131_073 + '",Subscribed,\r\n'  # a cell the csv module will not read
    text += '"two\r\nlines\t@example.com",Subscribed,\r\n'
    imp = run_import(owner, text)
    page = client.get(f"/subscriptions/imports/{imp.id}/progress").get_data(as_text=True)
    assert "<bdi>a\\u202eb@example.com</bdi>" in page  # its direction mark written out
    assert "<bdi>x\\x01y@example.com</bdi>" in page and "\x01" not in page
    assert '<span class="muted">not read</span>' in page
    assert "sub\\u202escribed\\x1b" in page and "\x1b" not in page and "\u202e" not in page
    assert "<bdi>two↵lines⇥@example.com</bdi>" in page  # a line break and a tab, as such


def test_a_rejected_cell_cut_short_ends_in_an_ellipsis_on_the_page_and_in_the_download(
    owner, client
):
    long_address, long_status = "a" * 400 + "@example.com", "S" * 150
    text = HEADER + f"{long_address},Subscribed,\r\nb@example.com,{long_status},{'9' * 150}\r\n"
    imp = run_import(owner, text)
    got = client.get(f"/subscriptions/imports/{imp.id}/rejects.csv").get_data(as_text=True)
    first, second = list(csv.reader(io.StringIO(got)))[1:]
    assert first[0] == "a" * 319 + "…" and second[0] == "b@example.com"
    assert second[1] == "S" * 99 + "…" and second[2] == "9" * 99 + "…"
    page = client.get(f"/subscriptions/imports/{imp.id}/progress").get_data(as_text=True)
    assert f"<bdi>{'a' * 319}…</bdi>" in page and "……" not in page


def test_an_address_held_only_by_rejected_rows_is_shown_exported_and_erased(client, owner):
    """A rejected row keeps the address (to correct and upload): the customer page says so, and
    the privacy export holds it, until the address is erased."""
    imp = run_import(owner, f"{HEADER}f5@example.com,Subscribed,=1+1\r\n")
    page = client.get("/subscriptions/customer?email=F5@example.com").get_data(as_text=True)
    assert "Rejected rows of CSV uploads" in page and "Nothing is held" not in page
    assert f'href="/subscriptions/imports/{imp.id}">“subs.csv”</a>' in page
    exported = client.get("/subscriptions/customer/export.json?email=f5@example.com")
    [row] = json.loads(exported.get_data(as_text=True))["rejected_csv_rows"]
    assert (row["import_id"], row["line"], row["value"], row["file"]) == (
        imp.id,
        2,
        "f5@example.com",
        "subs.csv",
    )
    assert row["date_cell"] == "=1+1" and row["reason"].startswith("unreadable date")
    post(client, "/subscriptions/customer/erase", email="f5@example.com", confirm="y")
    assert (
        client.get("/subscriptions/customer/export.json?email=f5@example.com").status_code == 404
    )
    assert rejects(imp) == []


def test_open_quotes_on_neighbouring_lines_each_reject_their_own_line(owner):
    """Each line that leaves a quote open before a row is rejected alone: none goes missing."""
    text = "Email address,Subscription status,Updated at,Note\n"
    text += 'q1@example.com,Subscribed,,"note\nq2@example.com,Subscribed,,"note2\n'
    imp = run_import(owner, text + "q3@example.com,Subscribed,\n")
    assert [line for line, _, _ in rejects(imp)] == [2, 3]
    assert (imp.rows_read, imp.applied, imp.rejected) == (3, 1, 2)


def test_a_file_of_open_quotes_is_read_in_batches_of_the_usual_size(owner, monkeypatch):
    """Lines of three quotes each (a quote left open when read alone, and closing the one
    before): every batch still holds BATCH_ROWS rows, each line is counted once."""
    monkeypatch.setattr(csv_imports, "BATCH_ROWS", 10)
    real, sizes = csv_imports.apply_rows, []

    def counted(merchant_id, ref, rows):
        sizes.append(len(rows))
        return real(merchant_id, ref, rows)

    monkeypatch.setattr(csv_imports, "apply_rows", counted)
    open_quotes = '"y",z,"'  # three quotes: one left open
    lines = [
        f"a{n}@example.com,Subscribed,,{'' if n % 10 == 9 else open_quotes}\n" for n in range(100)
    ]
    imp = run_import(owner, "Email address,Subscription status,Updated at,Note\n" + "".join(lines))
    assert (imp.rows_read, imp.applied, imp.rejected) == (100, 10, 90)
    assert sizes in ([1] * 10, [1] * 10 + [0])  # 10 rows a batch, one valid in each


def test_a_rejected_row_with_a_capital_outside_ascii_is_found_and_erased(client, owner):
    """SQLite's lower() folds ASCII alone (PostgreSQL's too, in the C locale): Ü is ü all the
    same to the customer page, the export and erasure."""
    imp = run_import(owner, f"{HEADER}Üser@example.com,Maybe,\r\nuser@example.com,Maybe,\r\n")
    page = client.get("/subscriptions/customer?email=üser@example.com").get_data(as_text=True)
    assert "Rejected rows of CSV uploads" in page
    exported = client.get("/subscriptions/customer/export.json?email=üser@example.com")
    rows = json.loads(exported.get_data(as_text=True))["rejected_csv_rows"]
    assert [row["value"] for row in rows] == ["Üser@example.com"]
    post(client, "/subscriptions/customer/erase", email="üser@example.com", confirm="y")
    assert [value for _, value, _ in rejects(imp)] == ["user@example.com"]
