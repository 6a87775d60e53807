"""Subscription CSV imports: the uploaded file stored in the database, then applied by a job in
batches, each committed with its rejects, counters and cursor, so that a crash never leaves half
a batch and a second run resumes where the first stopped.

Rows apply last-write-wins: a row moves an address only when its date is strictly newer than
the status held (an equal or older one counts as skipped), and only a row that moved an address
enters the ledger (source "csv", ref "<sha256[:16]>:<line>"). Undated rows are dated with the
first upload of the same content, so uploading a file again changes nothing."""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO

from sqlalchemy import func, insert, select

from portal import db
from portal.db import utcnow
from portal.models import CsvImport, CsvImportChunk, CsvImportReject, ImportStatus, Merchant, User
from portal.services.consent_csv import (
    apply_rows,
    CSV_MAX_BYTES,
    Columns,
    RefusedFile,
    Reject,
    Row,
    parse_row,
    read_header,
    records,
)

CHUNK_BYTES = 1024 * 1024  # every stored chunk but the last holds exactly this many bytes
BATCH_ROWS = 5000  # rows applied and committed together
NOT_TEXT = (
    "This file is not a CSV text file (it holds binary data, like an image or a spreadsheet). "
    "Save it as “CSV UTF-8” and upload that."
)


def start_import(
    merchant: Merchant, user: User | None, filename: str, stream: BinaryIO
) -> CsvImport:
    """A queued import holding the file, read from `stream` a chunk at a time (never the whole
    file in memory). RefusedFile, with nothing stored, when the file is empty, too big, not
    UTF-8 text or lacks a required column. The caller commits, then enqueues the job."""
    imp = CsvImport(merchant_id=merchant.id, user_id=user.id if user else None, size_bytes=0)
    imp.filename, imp.sha256 = (filename or "upload.csv")[:255], ""
    with db.session.begin_nested():  # a refusal rolls back the chunks already written
        db.session.add(imp)
        db.session.flush()
        imp.size_bytes, imp.sha256 = _store(imp.id, stream)
    return imp


def _store(import_id: int, stream: BinaryIO) -> tuple[int, str]:
    """Write the stream as chunks; (size, sha256). Checks the header and that it is all UTF-8."""
    digest, decoder = hashlib.sha256(), codecs.getincrementaldecoder("utf-8")()
    size = number = 0
    while chunk := _read_full(stream, CHUNK_BYTES):
        size += len(chunk)
        if size > CSV_MAX_BYTES:
            raise RefusedFile(f"The file is over the {CSV_MAX_BYTES // 2**20} MB limit.")
        text = _decode(decoder, chunk, final=False)
        if number == 0:
            _check_header(text)
        digest.update(chunk)
        db.session.execute(
            insert(CsvImportChunk), {"import_id": import_id, "number": number, "data": chunk}
        )
        number += 1
    if size == 0:
        raise RefusedFile("The file is empty.")
    _decode(decoder, b"", final=True)
    return size, digest.hexdigest()


def _read_full(stream: BinaryIO, size: int) -> bytes:
    # A stream may return less than asked before its end: chunks must be full (see CHUNK_BYTES).
    parts, left = [], size
    while left and (part := stream.read(left)):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _decode(decoder, chunk: bytes, final: bool) -> str:
    if b"\x00" in chunk:
        raise RefusedFile(NOT_TEXT)
    try:
        return decoder.decode(chunk, final)
    except UnicodeDecodeError as exc:
        raise RefusedFile(NOT_TEXT) from exc


def _check_header(text: str) -> Columns:
    if not text.strip():
        raise RefusedFile("The file is empty.")
    try:
        cells = next(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    except (csv.Error, StopIteration) as exc:
        raise RefusedFile("The first line of the file is not a CSV header.") from exc
    return read_header(cells)


def process(import_id: int) -> str:
    """Apply an import from its cursor to the end; its status afterwards. Commits after each
    batch (the point of the cursor: a crash keeps what was applied). A done or failed import,
    or one that another run is moving meanwhile, is left alone."""
    imp = db.session.get(CsvImport, import_id)
    if imp is None or imp.status in (ImportStatus.DONE, ImportStatus.FAILED):
        db.session.rollback()
        return imp.status if imp else "missing"
    imp.status = ImportStatus.RUNNING
    db.session.commit()
    undated = db.session.scalar(
        select(func.min(CsvImport.created_at)).where(
            CsvImport.merchant_id == imp.merchant_id, CsvImport.sha256 == imp.sha256
        )
    )
    for batch in _batches(imp, _columns(imp.id)):
        if not _apply_batch(imp, batch, undated):
            db.session.rollback()
            return imp.status
        db.session.commit()
    imp.status, imp.finished_at = ImportStatus.DONE, utcnow()
    db.session.commit()
    return imp.status


def _columns(import_id: int) -> Columns:
    first = db.session.scalar(
        select(CsvImportChunk.data).where(
            CsvImportChunk.import_id == import_id, CsvImportChunk.number == 0
        )
    )
    return _check_header(first.split(b"\n", 1)[0].decode("utf-8-sig"))


@dataclass
class Batch:
    start_offset: int
    rows: list[Row] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)
    read: int = 0
    end_offset: int = 0
    end_line: int = 0


class _Cursor:
    offset = 0


def _batches(imp: CsvImport, columns: Columns) -> Iterator[Batch]:
    """The file from the import's cursor on, in batches of BATCH_ROWS data rows (the last may
    be smaller, or empty: it still moves the cursor to the end)."""
    cursor, batch = _Cursor(), Batch(imp.next_offset)
    lines, next_line = _lines(imp.id, imp.next_offset, cursor), imp.next_line
    if imp.next_offset == 0:  # the header is not a data row
        next(lines)
        next_line = 2
    for line, next_line, cells in records(lines, next_line):
        if isinstance(cells, str):
            batch.rejects.append(Reject(line, "", cells))
        elif not any(cells):
            continue  # a blank line is no row
        else:
            parsed = parse_row(cells, columns, line)
            (batch.rows if isinstance(parsed, Row) else batch.rejects).append(parsed)
        batch.read += 1
        if batch.read >= BATCH_ROWS:
            batch.end_offset, batch.end_line = cursor.offset, next_line
            yield batch
            batch = Batch(cursor.offset)
    batch.end_offset, batch.end_line = cursor.offset, next_line
    yield batch


def _lines(import_id: int, offset: int, cursor: _Cursor) -> Iterator[str]:
    """The stored file's lines from byte `offset`, decoded; `cursor.offset` is the byte after
    the last line handed out (a line is split on LF bytes, never inside a UTF-8 character)."""
    cursor.offset = offset
    number, skip = divmod(offset, CHUNK_BYTES)
    carry = b""
    while True:
        data = db.session.scalar(
            select(CsvImportChunk.data).where(
                CsvImportChunk.import_id == import_id, CsvImportChunk.number == number
            )
        )
        if data is None:
            break
        parts = (carry + data[skip:]).split(b"\n")
        carry, skip, number = parts.pop(), 0, number + 1
        for part in parts:
            start, cursor.offset = cursor.offset, cursor.offset + len(part) + 1
            yield part.decode("utf-8-sig" if start == 0 else "utf-8") + "\n"
    if carry:
        start, cursor.offset = cursor.offset, cursor.offset + len(carry)
        yield carry.decode("utf-8-sig" if start == 0 else "utf-8")


def _apply_batch(imp: CsvImport, batch: Batch, undated: datetime) -> bool:
    """Apply one batch with its rejects, counters and cursor (the caller commits them at once);
    False when another run has moved the cursor since (this run then stops)."""
    db.session.refresh(imp, with_for_update=True)
    if imp.next_offset != batch.start_offset:
        return False
    rows = newest_per_address(batch.rows, undated)
    moved = apply_rows(imp.merchant_id, f"{imp.sha256[:16]}:", rows)
    if batch.rejects:
        db.session.execute(
            insert(CsvImportReject),
            [
                {"import_id": imp.id, "line": r.line, "value": r.value[:320], "reason": r.reason}
                for r in batch.rejects
            ],
        )
    imp.rows_read += batch.read
    imp.applied += moved
    imp.skipped_older += len(batch.rows) - moved
    imp.rejected += len(batch.rejects)
    imp.next_offset, imp.next_line = batch.end_offset, batch.end_line
    return True


def newest_per_address(rows: list[Row], undated: datetime) -> list[Row]:
    """One row per address, dated (undated ones: `undated`): the newest; on a tie the first."""
    best: dict[str, Row] = {}
    for row in rows:
        when = row.occurred_at or undated
        held = best.get(row.email)
        if held is None or when > held.occurred_at:
            best[row.email] = Row(row.line, row.email, row.status, when)
    return list(best.values())


def recent(merchant: Merchant, limit: int = 10) -> list[CsvImport]:
    """The merchant's latest imports, newest first."""
    return list(
        db.session.scalars(
            select(CsvImport)
            .where(CsvImport.merchant_id == merchant.id)
            .order_by(CsvImport.id.desc())
            .limit(limit)
        )
    )


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
