"""Subscription CSV imports: the uploaded file stored in the database, then applied by a job in
batches, each committed with its rejects, counters and cursor, so that a crash never leaves half
a batch and a second run resumes where the first stopped.

Rows apply last-write-wins: a row moves an address only when its date is strictly newer than
the status held, or as new and an unsubscribe of a subscribed address (any other counts as
skipped), and only a row that moved an address enters the ledger (source "csv", ref
"import:<id>:<line>"). An undated row applies at the upload's time, and only to an address
not already of its status nor unsubscribed by the customer (else it counts as unchanged):
uploading a file again changes nothing, unless the status was changed since. A row for an address the merchant erased on request is rejected: the file never
brings it back. So is a row dated over five minutes after the upload: it would outrank every
real change until its date, even a shopper's unsubscribe; one dated less after it (clocks
differ) is dated at the upload."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import BinaryIO

from sqlalchemy import delete, insert, select, text

from portal import db
from portal.db import utcnow
from portal.mail.mime import BIDI, HIDDEN
from portal.mail.values import one_line, truncate
from portal.models import CsvImport, CsvImportChunk, CsvImportReject
from portal.models import ImportStatus, Merchant, User
from portal.services import consent_authors, csv_files, erasure
from portal.services.consent_csv import STATUS_WORDS, Columns, Reject, Row, iso_utc
from portal.services.consent_csv_records import Batch, Records, read_batch
from portal.services.consent_csv_apply import apply_rows, outranks

BATCH_ROWS = 20_000  # rows applied and committed together (a few MB of Python objects)
# SQLite has one writer at a time: a batch holds every other write (a login, an unsubscribe)
# while it is applied, so there batches stay well under a second.
SQLITE_BATCH_ROWS = 2_000
ANALYZE_AFTER = 10_000  # addresses moved by an import, after which the statistics are renewed
ERASED = "this address was erased on request"
REJECT_VALUE_LIMIT = 320  # characters of a rejected cell kept to show it
REASON_LIMIT = CsvImportReject.reason.type.length  # the column's: a reason is cut, never refused
FUTURE_SLACK = timedelta(minutes=5)  # clocks differ: a row this far ahead of the upload is kept


def start_import(
    merchant: Merchant, user: User | None, filename: str, stream: BinaryIO
) -> CsvImport:
    """A queued import holding the file, read from `stream` a chunk at a time (never the whole
    file in memory). RefusedFile, with nothing stored, when the file is empty, too big, not
    UTF-8 text or lacks a required column. The caller commits, then enqueues the job."""
    imp = CsvImport(merchant_id=merchant.id, user_id=user.id if user else None, size_bytes=0)
    # A name is only shown back, on one line (a NUL, which PostgreSQL refuses, included).
    # Marks that turn or hide text go: the name is shown, and "\u202eVSC.exe" reads "exe.CSV".
    name = one_line(BIDI.sub("", HIDDEN.sub("", filename or ""))) or "upload.csv"
    imp.filename, imp.sha256 = name[:255], ""
    with db.session.begin_nested():  # a refusal rolls back the chunks already written
        db.session.add(imp)
        db.session.flush()
        imp.size_bytes, imp.sha256 = csv_files.store(imp.id, stream)
    return imp


def process(import_id: int) -> str:
    """Apply an import from its cursor to the end; its status afterwards. Commits after each
    batch (the point of the cursor: a crash keeps what was applied). A done or failed import,
    or one that another run is moving meanwhile, is left alone."""
    imp = db.session.get(CsvImport, import_id)
    if imp is None or imp.status in (ImportStatus.DONE, ImportStatus.FAILED):
        db.session.rollback()
        return imp.status if imp else "missing"
    imp.status, imp.touched_at = ImportStatus.RUNNING, utcnow()
    db.session.commit()
    for start, batch, end in _batches(imp, csv_files.columns(imp.id)):
        if not _apply_batch(imp, (start, end), batch):
            db.session.rollback()
            return imp.status
        db.session.commit()
    finish(imp, ImportStatus.DONE)
    db.session.commit()
    if imp.applied >= ANALYZE_AFTER:
        # Until autovacuum's next pass, the planner would count the merchant's addresses as
        # before the file: a page of the list could sort them all rather than walk the index.
        db.session.execute(text("ANALYZE contacts"))
        db.session.commit()
    return imp.status


def give_up(import_id: int, reason: str) -> None:
    """End an import whose job failed its last try, saying so on its page (what it applied is
    kept, and the same file uploaded again applies only the rest). The caller commits."""
    imp = db.session.get(CsvImport, import_id)
    if imp is None or imp.status in (ImportStatus.DONE, ImportStatus.FAILED):
        return
    rows = f"{imp.rows_read:,} row" + ("" if imp.rows_read == 1 else "s")
    finish(
        imp,
        ImportStatus.FAILED,
        f"The import stopped after {rows}, and the tries that followed failed "
        f"too ({reason}). The rows counted above are applied: upload the same file again to "
        "apply the rest (rows already applied are skipped).",
    )


def finish(imp: CsvImport, status: str, error: str | None = None) -> None:
    """End an import and drop its file: what it applied is in the ledger, its rejects are kept,
    and an address erased later must not live on in an old upload. The caller commits."""
    imp.status, imp.finished_at, imp.error = status, utcnow(), error or imp.error
    db.session.execute(delete(CsvImportChunk).where(CsvImportChunk.import_id == imp.id))


def _batches(imp: CsvImport, columns: Columns) -> Iterator[tuple[int, Batch, int]]:
    """(start offset, batch, end offset) for the file from the import's cursor on, in batches
    of BATCH_ROWS data rows, at most SQLITE_BATCH_ROWS on SQLite (the last may be smaller, or
    empty: it still moves the cursor to the end)."""
    lines = csv_files.Lines(imp.id, imp.next_offset)
    source, first_line, header = iter(lines), imp.next_line, 0
    if imp.next_offset == 0:  # the header is not a data row
        next(source, None)
        first_line, header = 2, 1
    records, start = Records(source, first_line, columns), imp.next_offset
    size = BATCH_ROWS
    if db.session.get_bind().dialect.name == "sqlite":
        size = min(size, SQLITE_BATCH_ROWS)
    while True:
        batch = read_batch(records, columns, size)
        end = lines.offset_after(header + records.lines_read)
        yield start, batch, end
        if not batch.complete:
            return
        start = end


def _apply_batch(imp: CsvImport, span: tuple[int, int], batch: Batch) -> bool:
    """Apply one batch, the file's bytes `span`, with its rejects, counters and cursor (the
    caller commits them at once); False when another run has moved the cursor since (this run
    then stops)."""
    db.session.refresh(imp, with_for_update=True)
    if imp.next_offset != span[0]:
        return False
    erasure.read_erased_after_erasures(imp.merchant_id)
    valid, erased = _not_erased(imp.merchant_id, batch.rows)
    valid, future = _not_future(valid, imp.created_at)
    refused = batch.rejects + erased + future
    rows = newest_per_address(valid, imp.created_at)
    moved, unchanged = apply_rows(imp.merchant_id, consent_authors.IMPORT_REF.format(imp.id), rows)
    if refused:
        db.session.execute(
            insert(CsvImportReject),
            [
                {
                    "import_id": imp.id,
                    "line": r.line,
                    "value": truncate(r.value, REJECT_VALUE_LIMIT),
                    "status_cell": r.status,
                    "date_cell": r.date,
                    "reason": truncate(r.reason, REASON_LIMIT),
                }
                for r in refused
            ],
        )
    imp.rows_read += batch.read
    imp.applied += moved
    imp.unchanged += unchanged
    imp.skipped_older += len(valid) - moved - unchanged
    imp.rejected += len(refused)
    imp.next_offset, imp.next_line = span[1], batch.end_line
    imp.touched_at = utcnow()
    return True


def _not_erased(merchant_id: int, rows: list[Row]) -> tuple[list[Row], list[Reject]]:
    """The rows whose address the merchant did not erase, and a reject for each other one (its
    value left empty: the address must not be kept again). One lookup when it never erased one."""
    gone = erasure.erased_among(merchant_id, (row.email for row in rows)) if rows else ()
    if not gone:
        return rows, []
    kept = [row for row in rows if row.email not in gone]
    return kept, [Reject(row.line, "", ERASED) for row in rows if row.email in gone]


def _not_future(rows: list[Row], uploaded: datetime) -> tuple[list[Row], list[Reject]]:
    """The rows dated at most FUTURE_SLACK after the upload, those dated after it dated at it,
    and a reject for each other one: a date in the future would outrank every real change
    until then, even a shopper's unsubscribe (the latest date wins)."""
    now, latest = uploaded.timestamp(), (uploaded + FUTURE_SLACK).timestamp()
    if all(row.occurred_at is None or row.occurred_at <= now for row in rows):
        return rows, []
    kept = [
        row if row.occurred_at is None or row.occurred_at <= now else row._replace(occurred_at=now)
        for row in rows
        if row.occurred_at is None or row.occurred_at <= latest
    ]
    return kept, [
        Reject(
            row.line,
            row.email,
            _future_reason(row.occurred_at),
            STATUS_WORDS[row.status],
            iso_utc(datetime.fromtimestamp(row.occurred_at, timezone.utc)),
        )
        for row in rows
        if row.occurred_at is not None and row.occurred_at > latest
    ]


def _future_reason(seconds: float) -> str:
    when = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"dated in the future ({when}): a row may not be dated after its upload. A local "
        "time needs its offset, e.g. 2023-10-23T20:58:02+02:00"
    )


def newest_per_address(rows: list[Row], uploaded: datetime) -> list[Row]:
    """One row per address, dated, the newest; of rows with the same date an unsubscribe, else
    the first (as a row must be newer than what is held to change it): so the same row wins
    whichever batch the others fall in. An undated row applies at `uploaded` plus a
    microsecond per line: a later undated line is a later change, in every batch."""
    base = uploaded.timestamp()
    rows = [
        row
        if row.occurred_at is not None
        else row._replace(occurred_at=base + row.line / 1e6, dated=False)
        for row in rows
    ]
    if len({row.email for row in rows}) == len(rows):
        return rows  # the common case: no address twice
    best: dict[str, Row] = {}
    for row in rows:
        held = best.get(row.email)
        if held is None or outranks(row.occurred_at, row.status, held.occurred_at, held.status):
            best[row.email] = row
    return list(best.values())


def recent(merchant: Merchant, limit: int = 10, before: int | None = None) -> list[CsvImport]:
    """The merchant's latest imports (older than import `before`, if given), newest first."""
    stmt = select(CsvImport).where(CsvImport.merchant_id == merchant.id)
    if before is not None:
        stmt = stmt.where(CsvImport.id < before)
    return list(db.session.scalars(stmt.order_by(CsvImport.id.desc()).limit(limit)))


def rejects(imp: CsvImport, after_line: int = 0, limit: int = 100) -> list[CsvImportReject]:
    """An import's rejected rows in line order, from after `after_line` (keyset pages)."""
    return list(
        db.session.scalars(
            select(CsvImportReject)
            .where(CsvImportReject.import_id == imp.id, CsvImportReject.line > after_line)
            .order_by(CsvImportReject.line)
            .limit(limit)
        )
    )
