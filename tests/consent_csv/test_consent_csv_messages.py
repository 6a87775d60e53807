"""Subscription CSV files as merchants really make them: what each refusal and reject says, one
contact per mailbox however its address is spelt, and an upload that holds no transaction."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import select

from factories import PASSWORD
from helpers import csrf_token
from portal import db as portal_db
from portal.db import utcnow
from portal.models import CsvImport
from portal.services import consent_csv, csv_files, csv_imports
from consent_csv_kit import HEADER, held, rejects, run_import


def refusal(owner, data: bytes) -> str:
    with pytest.raises(consent_csv.RefusedFile) as caught:
        csv_imports.start_import(owner.merchant, owner, "x.csv", io.BytesIO(data))
    portal_db.session.rollback()
    return str(caught.value)


@pytest.mark.parametrize(
    "data, words",
    [
        (
            b"Email address,Subscription status,Email address\r\na@example.com,Subscribed,b@x.io\r\n",
            "names the “Email address” column twice: keep one.",
        ),
        (b"sep=,\r\n" + HEADER.encode(), "The first line is “sep=,”: delete it"),
        (b"\r\n" + HEADER.encode(), "The first line is empty: delete it"),
        (HEADER.encode("utf-16-le"), "This file is in UTF-16"),
        (HEADER.encode("utf-16-be"), "This file is in UTF-16"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "holds binary data, like an image"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\x00", "holds binary data, like an image"),
        # A header, then a NUL: a damaged text file, told where.
        (
            HEADER.encode() + b"a@example.com,Subscribed,\r\nb@x\x00.io,Subscribed,\r\n",
            "Line 3 holds",
        ),
    ],
)
def test_files_a_spreadsheet_makes_are_refused_with_what_to_do(owner, db, data, words):
    assert words in refusal(owner, data)


def test_an_oversized_file_says_to_split_it(owner, db, monkeypatch):
    monkeypatch.setattr(csv_files, "CSV_MAX_BYTES", 3 * 2**20)
    monkeypatch.setattr(csv_files, "CHUNK_BYTES", 2**20)
    message = refusal(owner, HEADER.encode() + b"a@example.com,Subscribed,\r\n" * 150_000)
    assert message.startswith("The file is over the 3 MB limit: split it into smaller files")


def test_numbers_too_small_for_a_unix_time_and_overlong_addresses_say_why(owner, db):
    long_address = "a" * 250 + "@example.com"
    imp = run_import(
        owner,
        HEADER
        + "ann@example.com,Unsubscribed,45222.873611\r\n"
        + "year@example.com,Subscribed,2023\r\n"
        + "ok@example.com,Subscribed,1698094682\r\n"
        + f"{long_address},Subscribed,\r\n"
        + "early@example.com,Subscribed,500000000\r\n",
    )
    found = dict(rejects(db, imp))
    assert found[2].startswith("unreadable date “45222.873611”: as a Unix time it is in 1970")
    assert found[3].startswith("unreadable date “2023”: as a Unix time it is in 1970")
    assert found[5] == "too long for an email address (262 characters; at most 254)"
    assert found[6].startswith("unreadable date “500000000”: as a Unix time it is in 1985")
    assert imp.applied == 1 and set(held(db)) == {"ok@example.com"}


def test_one_mailbox_spelt_two_ways_is_one_contact(owner, db):
    run_import(
        owner,
        HEADER
        + "jos\u00e9@example.com,Subscribed,2024-01-01T00:00:00Z\r\n"
        + "JOSE\u0301@example.com,Unsubscribed,2024-06-01T00:00:00Z\r\n"
        + "user@xn--mnchen-3ya.de,Unsubscribed,2024-06-01T00:00:00Z\r\n"
        + "user@M\u00dcNCHEN.DE,Subscribed,2024-07-01T00:00:00Z\r\n"
        + "d@example.com,Subscribed,2024-01-01T00:00:00Z\r\n"
        + "d@\uff45xample\uff0ecom,Unsubscribed,2024-06-01T00:00:00Z\r\n",  # full width
    )
    contacts = {email: status for email, (status, _) in held(db).items()}
    assert contacts == {
        "jos\u00e9@example.com": "unsubscribed",
        "user@m\u00fcnchen.de": "subscribed",
        "d@example.com": "unsubscribed",
    }


def test_an_invisible_character_in_a_rejected_cell_is_shown(client, owner, login, db):
    login(client, "owner@bean.example", PASSWORD)
    imp = run_import(owner, HEADER + "nb@example.com,\u200bSubscribed,\r\n")
    page = client.get(f"/subscriptions/imports/{imp.id}").get_data(as_text=True)
    assert "unknown status “\\u200bSubscribed”" in page


def test_a_queued_import_says_it_waits_not_that_it_stalled(client, owner, login, db):
    login(client, "owner@bean.example", PASSWORD)
    body = io.BytesIO((HEADER + "a@example.com,Subscribed,\r\n").encode())
    imp = csv_imports.start_import(owner.merchant, owner, "x.csv", body)
    imp.created_at = utcnow() - timedelta(minutes=2, seconds=5)
    db.commit()
    fragment = client.get(f"/subscriptions/imports/{imp.id}/progress").get_data(as_text=True)
    assert "Waiting to start for 2 minutes" in fragment
    assert "No progress" not in fragment


class WatchedBody(io.BytesIO):
    """A request body that notes whether a database transaction was open while it was read."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.open_while_read: list[bool] = []

    def _note(self) -> None:
        self.open_while_read.append(portal_db.session().in_transaction())

    def read(self, *args):
        self._note()
        return super().read(*args)

    def readinto(self, buffer):
        self._note()
        return super().readinto(buffer)

    def readline(self, *args):
        self._note()
        return super().readline(*args)


def test_no_transaction_is_open_while_the_file_arrives(client, owner, login, db):
    # On SQLite a form's transaction holds the one write lock: a slow upload would hold every
    # other writer (logins, unsubscribes, the import job) for as long as it takes to arrive.
    login(client, "owner@bean.example", PASSWORD)
    token, boundary = csrf_token(client, "/subscriptions/import"), "portalboundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{token}\r\n',
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="s.csv"\r\n'
        f"Content-Type: text/csv\r\n\r\n{HEADER}a@example.com,Subscribed,\r\n\r\n",
        f"--{boundary}--\r\n",
    ]
    body = WatchedBody("".join(parts).encode())
    response = client.post(
        "/subscriptions/import",
        input_stream=body,
        content_type=f"multipart/form-data; boundary={boundary}",
        content_length=len(body.getvalue()),
    )
    assert response.status_code == 303
    assert body.open_while_read and not any(body.open_while_read)
    assert db.scalar(select(CsvImport.filename)) == "s.csv"


@pytest.mark.parametrize(
    "sent, kept",
    [("\u202eVSC.exe", "VSC.exe"), ("subs\u200b.csv", "subs.csv"), ("\u2066", "upload.csv")],
)
def test_a_file_name_is_kept_without_marks_that_turn_or_hide_it(owner, db, sent, kept):
    # Shown on the page and in the list of imports: "\u202eVSC.exe" would read "exe.CSV".
    imp = run_import(owner, HEADER + "a@example.com,Subscribed,\r\n", name=sent)
    assert imp.filename == kept
