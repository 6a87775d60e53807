"""The subscription CSV pages: uploading, following an import, rejected rows, who may do what."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime, timezone


from factories import PASSWORD, make_member, make_owner
from helpers import csrf_token
from portal.models import ConsentChange
from portal.services import csv_imports
from consent_csv_kit import HEADER, held, run_import


# --- pages --------------------------------------------------------------------------------


def upload(client, data: bytes, name: str = "subs.csv"):
    token = csrf_token(client, "/subscriptions/import")
    return client.post(
        "/subscriptions/import",
        data={"csrf_token": token, "file": (io.BytesIO(data), name)},
        content_type="multipart/form-data",
    )


def test_owner_uploads_and_follows_the_import(client, owner, login, db, redis_conn):
    login(client, "owner@bean.example", PASSWORD)
    response = upload(
        client, (HEADER + "a@example.com,Subscribed,\r\nnope,Subscribed,\r\n").encode()
    )
    assert response.status_code == 303
    page = response.headers["Location"]
    assert "Waiting to start" in client.get(page).get_data(as_text=True)
    import_id = int(page.rsplit("/", 1)[1])
    assert redis_conn.llen("rq:queue:default") == 1
    csv_imports.process(import_id)
    html = client.get(page).get_data(as_text=True)
    assert "Finished" in html and "not an email address" in html and "hx-get" not in html
    assert "A skipped row changed nothing" not in html  # none was skipped
    fragment = client.get(f"{page}/progress").get_data(as_text=True)
    assert 'data-figure="applied">1<' in fragment
    rejected = client.get(f"{page}/rejects.csv")
    assert rejected.get_data(as_text=True) == (
        HEADER.replace("\r\n", ",Line,Reason\r\n")
        + 'nope,Subscribed,,3,"not an email address: write one address, like name@example.com"\r\n'
    )
    export = client.get("/subscriptions/export.csv")
    assert export.mimetype == "text/csv"
    assert export.headers["Content-Disposition"].startswith('attachment; filename="subscriptions-')
    assert export.get_data(as_text=True).startswith(HEADER + "a@example.com,Subscribed,")
    # The address's history names who uploaded which file, and the line, linked to the import.
    customer = client.get("/subscriptions/customer?email=a@example.com").get_data(as_text=True)
    assert f'<a href="{page}">owner@bean.example: “subs.csv”, line 2</a>' in customer


def test_rejected_rows_download_in_stripes_format_to_correct_and_upload_again(
    client, owner, login, db
):
    text = HEADER + (
        "b@example.com,Maybe,2026-01-01T00:00:00Z\r\n"
        "c@example.com,Subscribed,yesterday\r\n"
        "d@example.com,Unsubscribed,2099-01-01T00:00:00Z\r\n"
        "e@example.com,=1+1,\r\n"
    )
    first = run_import(owner, text)
    assert first.rejected == 4
    login(client, "owner@bean.example", PASSWORD)
    download = client.get(f"/subscriptions/imports/{first.id}/rejects.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(download)))
    assert rows[0] == [*HEADER.strip().split(","), "Line", "Reason"]
    assert [row[:4] for row in rows[1:]] == [
        ["b@example.com", "Maybe", "2026-01-01T00:00:00Z", "2"],
        ["c@example.com", "Subscribed", "yesterday", "3"],
        ["d@example.com", "Unsubscribed", "2099-01-01T00:00:00+00:00", "4"],
        ["e@example.com", "'=1+1", "", "5"],  # a formula never runs in a spreadsheet
    ]
    # The merchant corrects the cells and uploads the file as downloaded, Line and Reason kept.
    fixed = download.replace("Maybe", "Subscribed").replace("yesterday", "")
    fixed = fixed.replace("2099-01-01", "2026-02-01").replace("'=1+1", "Subscribed")
    again = run_import(owner, fixed, name="fixed.csv")
    assert (again.applied, again.rejected) == (4, 0)
    assert held(db)["d@example.com"][0] == "unsubscribed"


def test_the_page_explains_skipped_rows_when_there_are_some(client, owner, login, db):
    text = HEADER + "a@example.com,Subscribed,2026-01-01T00:00:00Z\r\n"
    run_import(owner, text)
    again = run_import(owner, text)
    login(client, "owner@bean.example", PASSWORD)
    html = client.get(f"/subscriptions/imports/{again.id}").get_data(as_text=True)
    assert 'data-figure="skipped_older">1<' in html
    assert "A row skipped as not newer changed nothing" in html
    assert 'data-figure="unchanged"' not in html and "without a date" not in html


def test_undated_rows_with_nothing_to_change_are_counted_apart_and_explained(
    client, owner, login, db
):
    """Not "older": a row without a date is as new as the upload."""
    text = HEADER + "a@example.com,Subscribed,\r\n"
    run_import(owner, text)
    again = run_import(owner, text)
    login(client, "owner@bean.example", PASSWORD)
    html = client.get(f"/subscriptions/imports/{again.id}").get_data(as_text=True)
    assert 'data-figure="unchanged">1<' in html and 'data-figure="skipped_older">0<' in html
    assert "A row without a date left its address unchanged" in html
    assert "skipped as not newer" not in html
    listed = client.get("/subscriptions/import").get_data(as_text=True)
    assert "1 read, 0 applied, 1 unchanged" in listed


def test_a_refused_file_shows_the_reason_on_the_upload_page(client, owner, login):
    login(client, "owner@bean.example", PASSWORD)
    response = upload(client, b"\x00\x01\x02binary", "photo.png")
    assert response.status_code == 400
    assert "not a CSV text file" in response.get_data(as_text=True)
    response = client.post("/subscriptions/import", data={"file": (io.BytesIO(b"x"), "x.csv")})
    assert response.status_code == 400  # no CSRF token


def test_while_running_the_page_polls_and_works_without_javascript(client, owner, login, db):
    login(client, "owner@bean.example", PASSWORD)
    page = upload(client, (HEADER + "a@example.com,Subscribed,\r\n").encode()).headers["Location"]
    html = client.get(page).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in html and '<meta http-equiv="refresh"' in html
    assert ">Refresh</a>" in html and "<progress" in html


def test_a_member_downloads_but_cannot_upload(client, owner, login, db):
    make_member(owner.merchant_id, "member@bean.example")
    login(client, "member@bean.example", PASSWORD)
    assert client.get("/subscriptions/export.csv").status_code == 200
    assert "Only the account’s owner" in client.get("/subscriptions/import").get_data(as_text=True)
    token = csrf_token(client, "/subscriptions/import")
    response = client.post(
        "/subscriptions/import",
        data={"csrf_token": token, "file": (io.BytesIO(HEADER.encode()), "x.csv")},
    )
    assert response.status_code == 403


def test_another_merchants_import_is_not_found(client, owner, login, db):
    imp = run_import(owner, HEADER + "a@example.com,Subscribed,\r\n")
    make_owner("Other Shop", "other@shop.example")
    login(client, "other@shop.example", PASSWORD)
    for path in ("", "/progress", "/rejects.csv"):
        assert client.get(f"/subscriptions/imports/{imp.id}{path}").status_code == 404
    assert client.get("/subscriptions/export.csv").get_data(as_text=True) == HEADER


def test_the_imports_list_says_what_each_did_and_pages_back_to_the_oldest(client, owner, login):
    login(client, "owner@bean.example", PASSWORD)
    first = run_import(owner, HEADER + "a@example.com,Subscribed,\r\nnope,Subscribed,\r\n")
    for n in range(11):
        run_import(owner, HEADER + "a@example.com,Subscribed,\r\n", name=f"again{n}.csv")
    page = client.get("/subscriptions/import").get_data(as_text=True)
    assert "1 read, 0 applied, 1 unchanged" in page and "again10.csv" in page
    assert "subs.csv" not in page  # the oldest of twelve: on the next page
    older = re.search(r'href="(/subscriptions/import\?before=\d+)#recent-title">Older', page)
    assert older is not None
    back = client.get(older.group(1)).get_data(as_text=True)
    assert "Older imports" in back and "Latest imports" in back
    assert "2 read, 1 applied, 1 rejected" in back and f"/subscriptions/imports/{first.id}" in back
    assert ">again1.csv<" not in back and ">Older imports</a>" not in back
    for odd in ("-5", "x", "99999999999999999999"):
        assert client.get(f"/subscriptions/import?before={odd}").status_code == 200


def test_a_change_from_an_upload_names_it_and_says_when_it_was_uploaded(client, owner, login, db):
    """The row's date is when the customer said so; the upload may come years later. A change
    recorded before imports were named by id (by the file's hash) still names its file."""
    login(client, "owner@bean.example", PASSWORD)
    imp = run_import(owner, HEADER + "ola@example.com,Subscribed,2021-05-01T10:00:00Z\r\n")
    db.add(
        ConsentChange(
            merchant_id=owner.merchant_id,
            email="ola@example.com",
            status="unsubscribed",
            source="csv",
            source_ref=f"{imp.sha256[:16]}:7",
            occurred_at=datetime(2020, 1, 1, tzinfo=timezone.utc),
        )
    )
    db.commit()
    html = client.get("/subscriptions/customer?email=ola@example.com").get_data(as_text=True)
    history = html.split("<h2>History</h2>")[1].split("</section>")[0]
    at = imp.created_at
    assert history.count(f'uploaded <span class="nowrap">{at:%b} {at.day}, {at.year}') == 2
    assert "owner@bean.example: “subs.csv”, line 2" in history
    assert "owner@bean.example: “subs.csv”, line 7" in history
