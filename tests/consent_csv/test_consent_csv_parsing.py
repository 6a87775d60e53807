"""Reading subscription CSV files: bad rows with their line, encodings, addresses and dates."""

from __future__ import annotations

import io

import itertools
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select

from portal.models import CsvImport, CsvImportChunk
from portal.services import addresses, consent_csv, csv_files, csv_imports
from consent_csv_kit import HEADER, T1, held, rejects, run_import


# --- reading files ------------------------------------------------------------------------


def test_every_kind_of_bad_row_is_reported_with_its_line(owner, db):
    imp = run_import(
        owner,
        "Email address,Subscription status,Updated at,Name\n"
        "not-an-address,Subscribed,,x\n"  # 2
        "a@example.com,maybe,,x\n"  # 3
        "b@example.com,Subscribed,yesterday\n"  # 4
        "c@example.com\n"  # 5
        '"multi\nline@example.com",Subscribed,\n'  # 6-7
        "d@example.com,Subscribed,2023-13-45\n"  # 8
        "\n"  # 9: blank, ignored
        "e@example.com,UNSUBSCRIBED,2023-10-23 20:58:02,extra,cells\n"  # 10
        ",Subscribed,\n"  # 11
        "a b@example.com,Subscribed,\n"  # 12
        "f@example,Subscribed,\n",  # 13
    )
    assert rejects(db, imp) == [
        (2, "not an email address: write one address, like name@example.com"),
        (3, "unknown status “maybe”: use Subscribed or Unsubscribed"),
        (
            4,
            "unreadable date “yesterday”: write it like 2023-10-23T20:58:02+00:00, or leave it empty",
        ),
        (5, "missing cell: Subscription status"),
        (
            6,
            "not an email address: write one address, like name@example.com (a quoted cell carries this row on to line 7: if it should "
            "not, check for a quote that is not closed)",
        ),
        (
            8,
            "unreadable date “2023-13-45”: write it like 2023-10-23T20:58:02+00:00, or leave it empty",
        ),
        (11, "no email address"),
        (12, "not an email address: write one address, like name@example.com"),
        (13, "not an email address: write one address, like name@example.com"),
    ]
    assert (imp.rows_read, imp.applied, imp.rejected) == (10, 1, 9)
    assert held(db) == {"e@example.com": ("unsubscribed", T1)}


def test_bom_crlf_quotes_header_case_and_dates(owner, db):
    data = (
        "\ufeff  subscription STATUS ,Other, email ADDRESS,updated at\r\n"
        '"Subscribed","a, b","a@example.com","2023-10-23T22:58:02+02:00"\r\n'
        'Unsubscribed,"two\r\nlines",b@example.com,1698094682\r\n'
        "subscribed,,c@example.com,2023-10-23T20:58:02Z\r\n"
        "Subscribed,,bad,\r\n"
    ).encode()
    imp = run_import(owner, data)
    assert rejects(db, imp) == [
        (6, "not an email address: write one address, like name@example.com")
    ]
    assert held(db) == {
        "a@example.com": ("subscribed", T1),
        "b@example.com": ("unsubscribed", T1),
        "c@example.com": ("subscribed", T1),
    }


@pytest.mark.parametrize(
    "header",
    [
        "Email\u00a0address,Subscription\u00a0status",  # a spreadsheet's no-break spaces
        "Email address\u200b,Subscription status",  # a zero-width space
        '"\ufeffEmail address",Subscription status',  # a BOM inside the quotes
        "Email address,\ufeffSubscription status",
        "Email  address , subscription   STATUS",
    ],
)
def test_column_names_are_found_whatever_invisible_characters_they_hold(owner, db, header):
    imp = run_import(owner, f"{header}\r\na@example.com,Subscribed\r\n".encode())
    assert (imp.applied, imp.rejected) == (1, 0)
    assert set(held(db)) == {"a@example.com"}


@pytest.mark.parametrize(
    "data, message",
    [
        (b"", "empty"),
        (b"  \r\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV text file"),
        ("Email,Status\n".encode("utf-16"), "in UTF-16"),
        (b"\xef\xbb\xbf", "empty"),
        (b"Email address;Subscription status\nx@example.com;Subscribed\n", "by semicolons"),
        (b"Email address\tSubscription status\n", "by tabs"),
        (b"name,status\nx@example.com,Subscribed\n", "no “Email address” column"),
        (b"Email address,Updated at\nx@example.com,\n", "no “Subscription status” column"),
        (b"Email address\nonly@example.com\n", "no “Subscription status” column"),
        (HEADER.encode(), "no rows under it"),
        (b"\xef\xbb\xbfEmail address,Subscription status", "no rows under it"),
        (HEADER.encode() + b"\r\n \r\n", "no rows under it"),
        (HEADER.encode() + "caf\xe9@example.com,Subscribed,\n".encode("latin-1"), "not in UTF-8"),
        (
            HEADER.encode() + b"a@example.com,Subscribed,\n" * 3 + "\xe9,x\n".encode("latin-1"),
            r"not in UTF-8.*\(The first such character is on line 5\.\)",
        ),
        (
            HEADER.encode() + b"a@example.com,Subscribed,\n" * 400 + b"x\x00,y\n",
            "Line 402 holds binary data",
        ),
        (
            b'"Customer\nnotes",Email address,Subscription status\r\nhi,q@example.com,Subscribed\r\n',
            "holds a line break: put the header on one line",
        ),
    ],
)
def test_unreadable_files_are_refused_and_nothing_stored(owner, db, data, message):
    with pytest.raises(consent_csv.RefusedFile, match=message):
        csv_imports.start_import(owner.merchant, owner, "x.csv", io.BytesIO(data))
    db.commit()
    assert db.scalar(select(func.count()).select_from(CsvImport)) == 0
    assert db.scalar(select(func.count()).select_from(CsvImportChunk)) == 0


def test_an_oversized_file_is_refused(owner, db, monkeypatch):
    monkeypatch.setattr(csv_files, "CSV_MAX_BYTES", 100)
    monkeypatch.setattr(csv_files, "CHUNK_BYTES", 64)
    with pytest.raises(consent_csv.RefusedFile, match="over the 0 MB limit"):
        csv_imports.start_import(owner.merchant, owner, "x.csv", io.BytesIO(HEADER.encode() * 5))


# --- the address check ---------------------------------------------------------------------


def by_parts(text: str) -> bool:
    """The address rule written plainly, part by part (too slow for a million rows)."""
    local, at, domain = text.rpartition("@")
    labels = domain.split(".")
    return (
        bool(at)
        and all(part and " " not in part and "@" not in part for part in local.split("."))
        and len(labels) >= 2
        and all(
            label and not label.startswith("-") and not label.endswith("-") for label in labels
        )
        and " " not in domain
        and len(labels[-1]) >= 2  # a top-level domain has two characters or more
    )


def test_the_address_check_is_the_rule_written_part_by_part():
    # Every string of up to 7 characters over an alphabet that exercises each part of the rule.
    for size in range(1, 8):
        for chars in itertools.product("a.@ -", repeat=size):
            text = "".join(chars)
            assert addresses.is_email(text) is by_parts(text), text


@pytest.mark.parametrize(
    "email",
    [
        "a\x00b@example.com",
        "a\x1f@example.com",
        "a@b\x7f.io",
        "\u202e@x.com",  # right-to-left override
        "\uffff@x.com",  # a noncharacter
        "pay\u200bpal@example.com",  # zero-width space
        "a@example.com\ufeff",
    ],
)
def test_an_address_with_a_control_character_is_refused(email):
    assert not addresses.is_email(email)


@pytest.mark.parametrize(
    "email, plausible",
    [
        ("user@example.c", False),  # no top-level domain has one letter
        ("user@192.0.2.1", False),  # an IP address is no domain here
        ("user@exa_mple.com", False),
        ("user@ex!ample.com", False),
        ("user@münchen.de", True),
        ("a.b+c@mail.example.co.uk", True),
        ("o'brien@example.com", True),
        ("user@b--c.example", True),
    ],
)
def test_a_domain_is_letters_digits_and_inner_hyphens(email, plausible):
    assert addresses.is_email(email) is plausible


@pytest.mark.parametrize(
    "cell", ["a." * 120 + "a", "a@" + "a." * 120 + "a!@", "a@" + "." * 250 + " "]
)
def test_a_hostile_cell_of_dots_is_checked_at_once(cell):
    # The dot-atom form took about 2**n steps on these (years for n = 120); run in a child so
    # that a return of that form fails this test instead of hanging the suite.
    code = f"from portal.services import addresses; print(addresses.is_email({cell!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert done.stdout.strip() == "False"


# --- dates ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, when",
    [
        ("2023-10-23T20:58:02+00:00", T1),
        ("2023-10-23T22:58:02+02:00", T1),
        ("2023-10-23T20:58:02Z", T1),
        ("2023-10-23t20:58:02z", T1),  # RFC 3339 allows lower case
        ("2023-10-23 20:58:02", T1),
        ("1698094682", T1),
        ("1698094682.5", T1 + timedelta(microseconds=500_000)),
        ("2023-10-23T20:58:02.123457-00:30", T1 + timedelta(minutes=30, microseconds=123457)),
        ("1970-01-01T00:00:00Z", datetime(1970, 1, 1, tzinfo=timezone.utc)),
    ],
)
def test_dates_are_read_to_the_microsecond(owner, db, text, when):
    run_import(owner, f"{HEADER}a@example.com,Subscribed,{text}\n")
    assert held(db) == {"a@example.com": ("subscribed", when)}


@pytest.mark.parametrize("text", ["-62135596801", "9" * 14, "1e9", "1.", "١٦٩٨٠٩٤٦٨٢"])
def test_unreadable_dates_are_rejected(owner, db, text):
    imp = run_import(owner, f"{HEADER}a@example.com,Subscribed,{text}\n")
    assert [reason for _, reason in rejects(db, imp)] == [
        f"unreadable date “{text}”: write it like 2023-10-23T20:58:02+00:00, or leave it empty"
    ]


@pytest.mark.parametrize("text", ["253402300800", "9999-12-31T23:59:59-01:00"])
def test_dates_after_the_year_9999_are_in_the_future(owner, db, text):
    imp = run_import(owner, f"{HEADER}a@example.com,Subscribed,{text}\n")
    assert [reason for _, reason in rejects(db, imp)] == [
        f"date “{text}” is in the future: a row may not be dated after its upload"
    ]


def test_joined_files_and_semicolons_get_words_and_long_cells_a_mark(owner, db):
    """Two files joined into one (a byte-order mark and the column names again mid-file), a
    row split by semicolons, and a status cut short in its reason."""
    text = (
        f"{HEADER}a@example.com,Subscribed,\n\ufeffEmail address,Subscription status,Updated at\n"
        "\ufeffb@example.com,Unsubscribed,\nc@example.com;Subscribed;2023-01-01\n"
        f"d@example.com,{'x' * 50},\n"
    )
    imp = run_import(owner, text)
    assert rejects(db, imp) == [
        (3, "the column names again: two files joined into one? This line is skipped"),
        (5, "missing cell: Subscription status (cells here are split by semicolons: use commas)"),
        (6, f"unknown status “{'x' * 40}…”: use Subscribed or Unsubscribed"),
    ]
    assert set(held(db)) == {"a@example.com", "b@example.com"}


def test_a_quote_left_open_on_the_last_line_is_named(owner, db):
    imp = run_import(owner, f'{HEADER}a@example.com,Subscribed,\n"b@example.com,Unsubscribed,\n')
    assert rejects(db, imp) == [
        (
            3,
            "missing cell: Subscription status (a quote that is not closed holds the rest of "
            "the row in one cell)",
        )
    ]
    assert set(held(db)) == {"a@example.com"}
