"""The reading of uploaded CSV records: the fast split of plain lines must give exactly what the
csv module gives, with the same line numbers, whatever the file holds."""

from __future__ import annotations

import csv
import io
import random

import pytest

from portal.services import consent_csv
from portal.services.consent_csv_records import Records


def by_csv_module(text: str) -> list[tuple[int, object]]:
    """The reference: every record read by the csv module alone, with its first line."""
    reader, out = csv.reader(io.StringIO(text, newline="\n")), []
    while True:
        line = 1 + reader.line_num
        try:
            cells = next(reader)
        except StopIteration:
            return out
        except csv.Error as exc:
            cells = f"error: {exc}"
        out.append((line, cells))


def by_records(text: str) -> list[tuple[int, object]]:
    records = Records(iter(io.StringIO(text, newline="\n")), 1)
    out = [(line, cells if type(cells) is list else f"error: {cells}") for line, cells in records]
    assert records.lines_read == text.count("\n") + (not text.endswith("\n") and text != "")
    return out


PIECES = ["a", "b@x.io", ",", '"', '""', "\r\n", "\n", "\r", " ", "x" * 3, "é"]


@pytest.mark.parametrize("seed", range(300))
def test_random_files_read_as_the_csv_module_reads_them(seed):
    rng = random.Random(seed)
    text = "".join(rng.choice(PIECES) for _ in range(rng.randrange(1, 60)))
    assert by_records(text) == by_csv_module(text), repr(text)


@pytest.mark.parametrize(
    "text",
    [
        "a,b,c\r\nd,e,f\r\n",
        "a,b\nc,d",
        'a,"b\r\nc",d\r\ne,f\r\n',
        "a,b\rc\r\nd,e\r\n",
        "\r\n\r\n,\r\n",
        'a,"unterminated\r\nb,c\r\n',
        'a,"' + "x" * (consent_csv.FIELD_LIMIT + 1) + '"\r\nb,c\r\n',
        "a,b\r",
    ],
)
def test_edge_files_read_as_the_csv_module_reads_them(text):
    assert by_records(text) == by_csv_module(text)


def test_a_plain_line_never_reaches_the_csv_module():
    records = Records(iter(["a,b\r\n", "c,d\n"]), 5)

    def refuse(_):
        raise AssertionError("the csv module was asked to read a plain line")

    records.reader = map(refuse, records.reader)
    assert list(records) == [(5, ["a", "b"]), (6, ["c", "d"])]


def test_an_unquoted_cell_past_the_csv_modules_limit_keeps_its_row():
    """The module refuses a row with a field past its limit; a plain line is split on its
    commas whatever its length, so a long cell in an ignored column costs the row nothing."""
    long = "x" * (consent_csv.FIELD_LIMIT + 1)
    text = f"a@x.io,Subscribed,,{long}\r\nb,c\r\n"
    assert by_records(text) == [(1, ["a@x.io", "Subscribed", "", long]), (2, ["b", "c"])]
