"""The subscriptions CSV download in Stripe's format, streamed in constant memory whatever the
number of contacts: on PostgreSQL the database writes the CSV itself (COPY ... TO STDOUT, in
address order, the cells made safe and the dates formatted in SQL), elsewhere keyset pages of
EXPORT_BATCH contacts. Both write the same text: Stripe's header, CRLF line ends. Also an
import's rejected rows, downloadable to correct and upload again."""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Iterator

from psycopg import sql
from sqlalchemy import select

from portal import db
from portal.models import Contact, CsvImport, Merchant
from portal.services import consent_csv, csv_imports

EXPORT_BATCH = 5000  # contacts per query and per chunk of text streamed (keyset pages)
CHUNK_BYTES = 64 * 1024  # COPY sends a message per row: they are streamed in chunks this big
# The same cells as consent_csv.safe_cell and iso_utc, in SQL: a leading ' before a formula
# character or a ' (an upload drops one); the UTC time to the second with "+00:00", as Stripe
# writes it. The order names the table's column: a bare `email` there would be the first
# output column, the protected cell.
_COPY = sql.SQL(
    "COPY (SELECT CASE WHEN left(email, 1) IN ('=', '+', '-', '@', E'\\t', E'\\r', '''') "
    "THEN '''' || email ELSE email END, "
    "CASE status WHEN 'subscribed' THEN 'Subscribed' ELSE 'Unsubscribed' END, "
    """to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') """
    "FROM contacts WHERE merchant_id = {merchant} ORDER BY contacts.email) TO STDOUT (FORMAT csv)"
)


def export_chunks(merchant: Merchant) -> Iterator[str]:
    """The merchant's subscriptions as CSV text in Stripe's format, one row per address in
    address order, in chunks: memory stays constant whatever the number of contacts."""
    if db.session.get_bind().dialect.name == "postgresql":
        return _copy_chunks(merchant)
    return _keyset_chunks(merchant)


def _copy_chunks(merchant: Merchant) -> Iterator[str]:
    yield ",".join(consent_csv.HEADER) + "\r\n"
    connection = db.session.connection().connection.driver_connection
    decoder, pending, size = codecs.getincrementaldecoder("utf-8")(), [], 0
    with connection.cursor() as cursor:
        with cursor.copy(_COPY.format(merchant=sql.Literal(merchant.id))) as copy:
            for data in copy:
                pending.append(bytes(data))
                size += len(data)
                if size >= CHUNK_BYTES:
                    yield _crlf(decoder.decode(b"".join(pending)))
                    pending, size = [], 0
    yield _crlf(decoder.decode(b"".join(pending), final=True))


def _crlf(text: str) -> str:
    # COPY ends lines with LF; no cell holds a line break (addresses never do).
    return text.replace("\n", "\r\n")


def _keyset_chunks(merchant: Merchant) -> Iterator[str]:
    """The merchant's subscriptions as CSV text in Stripe's format (CRLF, like Stripe's export),
    one row per address in address order, in chunks of EXPORT_BATCH rows: memory stays constant
    whatever the number of contacts (keyset pages, never one big query)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)  # lineterminator defaults to "\r\n"
    writer.writerow(consent_csv.HEADER)
    last = ""
    while True:
        rows = db.session.execute(
            select(Contact.email, Contact.status, Contact.updated_at)
            .where(Contact.merchant_id == merchant.id, Contact.email > last)
            .order_by(Contact.email)
            .limit(EXPORT_BATCH)
        ).all()
        writer.writerows(
            (
                consent_csv.safe_cell(email),
                consent_csv.STATUS_WORDS.get(status, status),
                consent_csv.iso_utc(when),
            )
            for email, status, when in rows
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(rows) < EXPORT_BATCH:
            return
        last = rows[-1][0]


def reject_chunks(imp: CsvImport, page_size: int = 1000) -> Iterator[str]:
    """Every rejected row of an import as CSV text, a page at a time: Stripe's three cells of
    the row as it was read, then its line and the reason, every cell made safe to open."""
    buffer, last = io.StringIO(), 0
    writer = csv.writer(buffer)
    # Stripe's columns first: corrected, the file uploads again as it is (an upload reads
    # those three and ignores the others).
    writer.writerow((*consent_csv.HEADER, "Line", "Reason"))
    while True:
        page = csv_imports.rejects(imp, after_line=last, limit=page_size)
        writer.writerows(
            (
                *map(consent_csv.safe_cell, (r.value, r.status_cell, r.date_cell)),
                r.line,
                consent_csv.safe_cell(r.reason),
            )
            for r in page
        )
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(page) < page_size:
            return
        last = page[-1].line
