"""Subscription CSV in Stripe's format (SPEC section 6): the export, streamed in constant memory;
the reading of uploaded files (their header, each row checked with a reason in words); and the
applying of many dated rows at once, last-write-wins, set-based on PostgreSQL.

The import's lifecycle (storing the file, the job and its batches) is in csv_imports."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import insert, select, update

from portal import db
from portal.db import utcnow
from portal.models import ConsentChange, ConsentStatus, Contact

HEADER = ("Email address", "Subscription status", "Updated at")
CSV_MAX_BYTES = 100 * 1024 * 1024
STATUS_WORDS = {ConsentStatus.SUBSCRIBED: "Subscribed", ConsentStatus.UNSUBSCRIBED: "Unsubscribed"}
STATUSES = {word.lower(): status for status, word in STATUS_WORDS.items()}
# A spreadsheet runs a cell starting with one of these as a formula (OWASP's list).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
EMAIL_MAX = 254
_ATOM = r"[^\s@\"(),:;<>\[\]\\]+"
EMAIL_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_ATOM}(?:\.{_ATOM})+")
TIMESTAMP_RE = re.compile(r"\d{1,12}(?:\.\d+)?")
SOURCE = "csv"  # the ledger's source for every row applied from a file
LOOKUP_SIZE = 500  # addresses per IN (...) on SQLite


class RefusedFile(ValueError):
    """The whole file cannot be imported; the message says why, for the person uploading it."""


def safe_cell(value: str) -> str:
    """The value, with a leading ' when a spreadsheet would run it as a formula."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def iso_utc(when: datetime) -> str:
    """ISO 8601 in UTC to the second, as Stripe writes it: 2023-10-23T20:58:02+00:00."""
    return when.astimezone(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Columns:
    """Where Stripe's columns are in an uploaded file (`date` None: no Updated at column)."""

    email: int
    status: int
    date: int | None

    @property
    def width(self) -> int:
        """The cells a row needs (a missing date at the end of a row is an empty date)."""
        return max(self.email, self.status) + 1


def read_header(cells: list[str]) -> Columns:
    """The positions of Stripe's columns in a header row (names compared case-insensitively,
    surrounding spaces ignored, other columns ignored); RefusedFile when one is missing."""
    names = [cell.strip().lower() for cell in cells]
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


@dataclass(frozen=True)
class Row:
    """A valid row: the normalised address, its status and when (None: the upload's time)."""

    line: int
    email: str
    status: str
    occurred_at: datetime | None


@dataclass(frozen=True)
class Reject:
    line: int
    value: str
    reason: str


def parse_row(cells: list[str], columns: Columns, line: int) -> Row | Reject:
    """One data row read against the header: a Row, or a Reject naming the problem."""
    if len(cells) < columns.width:
        missing = [
            HEADER[i] for i, col in enumerate((columns.email, columns.status)) if col >= len(cells)
        ]
        value = ",".join(cells)[:320]
        return Reject(line, value, f"missing cell: {', '.join(missing)}")
    raw = cells[columns.email].strip()
    email = _unescape(raw).lower()
    if not is_email(email):
        return Reject(line, raw[:320], "not an email address" if raw else "no email address")
    word = cells[columns.status].strip()
    status = STATUSES.get(word.lower())
    if status is None:
        shown = f"“{word[:40]}”" if word else "empty"
        return Reject(line, raw, f"unknown status {shown}: use Subscribed or Unsubscribed")
    date = columns.date
    text = cells[date].strip() if date is not None and date < len(cells) else ""
    try:
        when = parse_date(text) if text else None
    except ValueError:
        return Reject(line, raw, f"unreadable date “{text[:40]}”: use ISO 8601 or a Unix time")
    return Row(line, email, status, when)


def _unescape(value: str) -> str:
    # Our export protects formula cells with a leading ': reading it back must give the address.
    return value[1:] if value[:1] == "'" and value[1:2] in FORMULA_STARTS else value


def is_email(value: str) -> bool:
    """A plausible address: one @, a dotted domain, no spaces or quotes, at most 254 chars."""
    return len(value) <= EMAIL_MAX and EMAIL_RE.fullmatch(value) is not None


def parse_date(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 (offset or Z; none means UTC) or Unix seconds;
    ValueError when it is neither or out of range."""
    try:
        if TIMESTAMP_RE.fullmatch(text):
            return datetime.fromtimestamp(float(text), timezone.utc)
        when = datetime.fromisoformat(text)
    except (OverflowError, OSError) as exc:
        raise ValueError(text) from exc
    if when.tzinfo is None:
        return when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc)


def records(lines: Iterable[str], first_line: int) -> Iterator[tuple[int, int, list[str] | str]]:
    """(line number where a record starts, the line after it, its cells) for each CSV record of
    `lines`, quoted newlines included; a record the csv module cannot read gives its error."""
    reader = csv.reader(lines)
    start = first_line
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            cells = f"unreadable CSV: {exc}"
        after = first_line + reader.line_num
        yield start, after, cells
        start = after


# One statement: move each contact whose held status is older (or create it), and add a ledger
# entry for exactly those. The batch holds one row per address (ON CONFLICT needs that).
APPLY_SQL = """
WITH moved AS (
    INSERT INTO contacts AS c (merchant_id, email, status, updated_at, source)
    SELECT %(merchant_id)s, email, status, occurred_at, %(source)s FROM csv_batch
    ON CONFLICT (merchant_id, email) DO UPDATE
        SET status = excluded.status, updated_at = excluded.updated_at, source = excluded.source
        WHERE excluded.updated_at > c.updated_at
    RETURNING c.email
), logged AS (
    INSERT INTO consent_changes
        (merchant_id, email, status, source, source_ref, occurred_at, recorded_at)
    SELECT %(merchant_id)s, b.email, b.status, %(source)s, %(ref)s || b.line, b.occurred_at,
        %(now)s
    FROM csv_batch b JOIN moved USING (email)
    ON CONFLICT DO NOTHING
)
SELECT count(*) FROM moved
"""


def apply_rows(merchant_id: int, ref_prefix: str, rows: list[Row]) -> int:
    """Move each address to its row's status when the row is strictly newer than the status
    held (or the address is new), with a ledger entry `ref_prefix + line` for each; returns how
    many moved. One row per address. The caller commits."""
    if not rows:
        return 0
    if db.session.get_bind().dialect.name == "postgresql":
        return _apply_postgresql(merchant_id, ref_prefix, rows)
    return _apply_rows(merchant_id, ref_prefix, rows)


def _apply_postgresql(merchant_id: int, ref_prefix: str, rows: list[Row]) -> int:
    # Addresses were validated: no tab, newline or backslash, so COPY's text format needs no
    # escaping, and one write of the whole batch is far cheaper than a row at a time.
    connection = db.session.connection().connection.driver_connection
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE csv_batch (email text, status text, "
            "occurred_at timestamptz, line integer) ON COMMIT DROP"
        )
        with cursor.copy("COPY csv_batch FROM STDIN") as copy:
            copy.write(
                "".join(
                    f"{r.email}\t{r.status}\t{r.occurred_at.isoformat()}\t{r.line}\n" for r in rows
                )
            )
        cursor.execute("ANALYZE csv_batch")  # else the join below may nest loops over 5,000
        cursor.execute(
            APPLY_SQL,
            {"merchant_id": merchant_id, "source": SOURCE, "ref": ref_prefix, "now": utcnow()},
        )
        moved = cursor.fetchone()[0]
        cursor.execute("DROP TABLE csv_batch")  # the next batch may share this transaction
    return moved


def _apply_rows(merchant_id: int, ref_prefix: str, rows: list[Row]) -> int:
    held = {}  # address -> (contact id, updated_at)
    emails = [r.email for r in rows]
    for start in range(0, len(emails), LOOKUP_SIZE):
        held.update(
            (email, (id_, when))
            for id_, email, when in db.session.execute(
                select(Contact.id, Contact.email, Contact.updated_at).where(
                    Contact.merchant_id == merchant_id,
                    Contact.email.in_(emails[start : start + LOOKUP_SIZE]),
                )
            )
        )
    moved = [r for r in rows if r.email not in held or r.occurred_at > held[r.email][1]]
    fields = [dict(status=r.status, updated_at=r.occurred_at, source=SOURCE) for r in moved]
    new = [
        dict(f, merchant_id=merchant_id, email=r.email)
        for r, f in zip(moved, fields)
        if r.email not in held
    ]
    old = [dict(f, id=held[r.email][0]) for r, f in zip(moved, fields) if r.email in held]
    if new:
        db.session.execute(insert(Contact), new)
    if old:
        db.session.execute(update(Contact), old)
    if moved:
        db.session.execute(insert(ConsentChange), _ledger(merchant_id, ref_prefix, moved))
    return len(moved)


def _ledger(merchant_id: int, ref_prefix: str, rows: list[Row]) -> list[dict]:
    now = utcnow()
    return [
        dict(
            merchant_id=merchant_id,
            email=r.email,
            status=r.status,
            source=SOURCE,
            source_ref=f"{ref_prefix}{r.line}",
            occurred_at=r.occurred_at,
            recorded_at=now,
        )
        for r in rows
    ]
