"""The merchant's side of the consent ledger: CSV imports (the file kept in the database, so
that any worker can read it, and the job's cursor, so that it resumes), their rejected rows,
and addresses erased on request, of which only a keyed hash is kept."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime, utcnow


class ImportStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the file could not be read at all (not CSV, no email column...)


class CsvImport(Base):
    """One uploaded subscription CSV and how far its job has come. The counters and the cursor
    are committed with each batch they describe: a crash leaves no half-applied batch, and the
    job resumes at `next_offset`."""

    __tablename__ = "csv_imports"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    filename: Mapped[str] = mapped_column(String(255))
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ImportStatus.QUEUED)
    rows_read: Mapped[int] = mapped_column(default=0)
    applied: Mapped[int] = mapped_column(default=0)
    skipped_older: Mapped[int] = mapped_column(default=0)
    # Rows without a date for an address already of their status, or that the customer
    # unsubscribed themselves: not older, but nothing for the row to change.
    unchanged: Mapped[int] = mapped_column(default=0, server_default="0")
    rejected: Mapped[int] = mapped_column(default=0)
    next_offset: Mapped[int] = mapped_column(BigInteger, default=0)  # bytes already processed
    next_line: Mapped[int] = mapped_column(default=1)  # the file's line number at next_offset
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    touched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it last moved


class CsvImportChunk(Base):
    """A piece of an uploaded file, in order: read one at a time, never the file at once."""

    __tablename__ = "csv_import_chunks"

    import_id: Mapped[int] = mapped_column(
        ForeignKey("csv_imports.id", ondelete="CASCADE"), primary_key=True
    )
    number: Mapped[int] = mapped_column(primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class CsvImportReject(Base):
    """A row of an import that was not applied, with its line number and the reason in words."""

    __tablename__ = "csv_import_rejects"
    __table_args__ = (UniqueConstraint("import_id", "line"),)  # a resumed batch adds none twice

    id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(
        ForeignKey("csv_imports.id", ondelete="CASCADE"), index=True
    )
    line: Mapped[int]
    value: Mapped[str] = mapped_column(String(320))  # the row's email cell, cut short
    # Its status and date cells, cut short: the rejects download as rows to correct and upload.
    status_cell: Mapped[str] = mapped_column(String(100), default="", server_default="")
    date_cell: Mapped[str] = mapped_column(String(100), default="", server_default="")
    reason: Mapped[str] = mapped_column(String(200))


class ErasedAddress(Base):
    """An address erased on request: only an HMAC of it, keyed with the portal's secret, so
    that the merchant never emails it again without anyone being able to read it back."""

    __tablename__ = "erased_addresses"

    merchant_id: Mapped[int] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    email_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    erased_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
