"""The applying of many dated subscription CSV rows at once, last-write-wins: set-based on
PostgreSQL (consent_csv_pg), and a portable path for the other databases."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import insert, select, update

from portal import db
from portal.db import utcnow
from portal.models import ConsentChange, ConsentSource, Contact
from portal.services import consent_csv_pg
from portal.services.consent_csv import Row

SOURCE = ConsentSource.CSV  # the ledger's source for every row applied from a file
LOOKUP_SIZE = 500  # addresses per IN (...) on SQLite


def apply_rows(merchant_id: int, ref_prefix: str, rows: list[Row]) -> int:
    """Move each address to its row's status when the row is strictly newer than the status
    held (or the address is new), with a ledger entry `ref_prefix + line` for each; returns how
    many moved. One row per address. The caller commits."""
    if not rows:
        return 0
    if db.session.get_bind().dialect.name == "postgresql":
        return consent_csv_pg.apply_rows(merchant_id, ref_prefix, SOURCE, rows)
    return _apply_rows(merchant_id, ref_prefix, rows)


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
    rows = [
        r._replace(occurred_at=datetime.fromtimestamp(r.occurred_at, timezone.utc)) for r in rows
    ]
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
