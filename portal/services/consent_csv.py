"""Subscription CSV in Stripe's format: the cells of the export, and the reading
of uploaded files (their header, and each row checked with a reason in words).

The splitting of a file into records, a batch at a time, is in consent_csv_records; the
applying of the rows read in consent_csv_apply; the import's lifecycle (storing the file, the
job and its batches) in csv_imports."""

from __future__ import annotations

import csv
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import NamedTuple

from portal.mail.values import truncate
from portal.models import ConsentStatus
from portal.services import addresses
from portal.services.addresses import EMAIL_MAX, is_email

HEADER = ("Email address", "Subscription status", "Updated at")
CSV_MAX_BYTES = 100 * 1024 * 1024
STATUS_WORDS = {ConsentStatus.SUBSCRIBED: "Subscribed", ConsentStatus.UNSUBSCRIBED: "Unsubscribed"}
STATUSES = {word.lower(): status for status, word in STATUS_WORDS.items()}
# A spreadsheet runs a cell starting with one of these as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PROTECTED_STARTS = (*FORMULA_STARTS, "'")
CELL_KEPT = 100  # characters of a rejected row's status and date cells kept
ADDRESS_LIKE = "write one address, like name@example.com"
OPEN_QUOTE = " (a quote that is not closed holds the rest of the row in one cell)"
TIMESTAMP_RE = re.compile(r"\d{1,12}(?:\.\d+)?", re.ASCII)
# No consent was given by email before 1970 (a date of year 1 is a placeholder, and shown in a
# time zone west of UTC it would fall before the first year a date can hold); 10000-01-01 UTC
# is past the last second a datetime can hold.
FIRST_SECOND, AFTER_LAST_SECOND = 0, 253_402_300_800
FIELD_LIMIT = csv.field_size_limit()  # the csv module refuses a longer field
EARLY, LATE = "before 1970", "after 9999"
# A number under this (2000-01-01 UTC) is no Unix time of a consent but a spreadsheet's date
# number (45222.87 is 2023-10-23 there) or a year: read as seconds, it would land in 1970.
FIRST_NUMBER, SMALL = 946_684_800, "a small number"


class RefusedFile(ValueError):
    """The whole file cannot be imported; the message says why, for the person uploading it."""


def safe_cell(value: str) -> str:
    """The value, with a leading ' when a spreadsheet would run it as a formula, or when it
    begins with a ' (which an upload reads as a spreadsheet's mark and drops)."""
    return "'" + value if value.startswith(PROTECTED_STARTS) else value


def iso_utc(when: datetime) -> str:
    """ISO 8601 in UTC to the second, as Stripe writes it: 2023-10-23T20:58:02+00:00."""
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Columns:
    """Where Stripe's columns are in an uploaded file (`date` None: no Updated at column)."""

    email: int
    status: int
    date: int | None
    # The cells a row needs (a missing date at the end of a row is an empty date).
    width: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "width", max(self.email, self.status) + 1)


def column_name(cell: str) -> str:
    """A header cell as compared with Stripe's names: lower case, its spaces (a spreadsheet's
    no-break space too) single, invisible characters (a zero-width space, a stray BOM) gone."""
    shown = "".join(ch for ch in cell if unicodedata.category(ch) != "Cf")
    return " ".join(shown.split()).lower()


def read_header(cells: list[str]) -> Columns:
    """The positions of Stripe's columns in a header row (names compared case-insensitively,
    surrounding spaces ignored, other columns ignored); RefusedFile when one is missing."""
    names = [column_name(cell) for cell in cells]
    email, status, date = (name.lower() for name in HEADER)
    if email not in names:
        raise RefusedFile(
            f"The file has no “{HEADER[0]}” column. The first line must name the columns: "
            f"{', '.join(HEADER)}."
        )
    if status not in names:
        raise RefusedFile(f"The file has no “{HEADER[1]}” column.")
    return Columns(
        names.index(email), names.index(status), names.index(date) if date in names else None
    )


class Row(NamedTuple):
    """A valid row: the normalised address, its status and when, in Unix seconds (None: the
    upload's time; `dated` False once that time is filled in).
    A tuple, in this order, because a file may hold millions of them."""

    line: int
    email: str
    status: str
    occurred_at: float | None
    dated: bool = True


@dataclass(frozen=True)
class Reject:
    """A row not applied: its line, its address cell (or the whole row when cells are missing),
    the reason in words, and its status and date cells as written (to correct and upload)."""

    line: int
    value: str
    reason: str
    status: str = ""
    date: str = ""


def parse_row(cells: list[str], columns: Columns, line: int) -> Row | Reject:
    """One data row read against the header: a Row, or a Reject naming the problem."""
    if len(cells) < columns.width:
        missing = [
            HEADER[i] for i, col in enumerate((columns.email, columns.status)) if col >= len(cells)
        ]
        value = truncate(",".join(cells), 320)
        hint = " (cells here are split by semicolons: use commas)" if ";" in value else ""
        if any("," in cell for cell in cells):  # only a quote keeps a comma in a cell
            hint = OPEN_QUOTE
        return Reject(line, value, f"missing cell: {', '.join(missing)}{hint}")
    # A byte-order mark inside a file begins a second file joined onto the first.
    raw, word = cells[columns.email].strip().lstrip("\ufeff"), cells[columns.status].strip()
    date = columns.date
    text = cells[date].strip() if date is not None and date < len(cells) else ""
    email, status = addresses.normal(_unescape(raw)), STATUSES.get(word.lower())
    if len(email) > EMAIL_MAX:
        reason = f"too long for an email address ({len(email)} characters; at most {EMAIL_MAX})"
    elif [raw.lower(), word.lower()] == [name.lower() for name in HEADER[:2]]:
        reason = "the column names again: two files joined into one? This line is skipped"
    elif not is_email(email):
        reason = f"not an email address: {ADDRESS_LIKE}" if raw else "no email address"
    elif status is None:
        shown = _shown(word) if word else "empty"
        reason = f"unknown status {shown}: use Subscribed or Unsubscribed"
    else:
        try:
            return Row(line, email, status, unix_time(text) if text else None)
        except ValueError as error:
            reason = _date_reason(text, str(error))
    return Reject(
        line, truncate(raw, 320), reason, truncate(word, CELL_KEPT), truncate(text, CELL_KEPT)
    )


def _shown(text: str) -> str:
    return f"“{truncate(text, 41)}”"


def _date_reason(text: str, why: str) -> str:
    shown = _shown(text)
    if why == EARLY:
        return f"date {shown} is before 1970: give the date the address said yes or no"
    if why == LATE:
        return f"date {shown} is in the future: a row may not be dated after its upload"
    if why == SMALL:
        year = datetime.fromtimestamp(float(text), timezone.utc).year
        return (
            f"unreadable date {shown}: as a Unix time it is in {year}, too early for a "
            "consent (a spreadsheet's date number, or a year?); write it like "
            "2023-10-23T20:58:02+00:00"
        )
    if text.isdecimal() and len(text) == 13:
        return f"unreadable date {shown}: a Unix time in milliseconds? Give it in seconds"
    return f"unreadable date {shown}: write it like 2023-10-23T20:58:02+00:00, or leave it empty"


def _unescape(value: str) -> str:
    # A leading ' is a spreadsheet's mark for text (our export adds it before a formula's
    # first character): reading the cell back must give the address.
    return value[1:] if value[:1] == "'" else value


def unix_time(text: str) -> float:
    """Seconds since 1970 UTC from ISO 8601 (offset or Z; none means UTC) or a Unix time;
    ValueError when it is neither, before 1970 (its message then: EARLY), a number before 2000
    (SMALL) or after 9999 (LATE). A float, not a datetime: a file holds a million of them, and a float
    is what the database is sent."""
    # isdecimal() is \d's test: the common whole Unix time skips the pattern. Eight digits
    # are a date (20231023, ISO 8601's basic form), not a second of 1970-1973.
    whole = text.isascii() and text.isdecimal() and len(text) <= 12 and len(text) != 8
    if whole or ("." in text and TIMESTAMP_RE.fullmatch(text)):
        seconds = float(text)
        if seconds < FIRST_NUMBER:
            raise ValueError(SMALL)
    else:
        when = datetime.fromisoformat(text.upper())  # RFC 3339 allows a lower-case t and z
        seconds = (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp()
    if seconds < FIRST_SECOND:
        raise ValueError(EARLY)
    if seconds >= AFTER_LAST_SECOND:
        raise ValueError(LATE)
    return seconds
