"""The applying of many dated subscription CSV rows at once, last-write-wins: set-based on
PostgreSQL (consent_csv_pg), and a portable path for the other databases."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from sqlalchemy import insert, select, update

from portal import db
from portal.db import utcnow
from portal.models import ConsentChange, ConsentSource, ConsentStatus, Contact
from portal.services import consent_csv_pg
from portal.services.consent_csv import Row

SOURCE = ConsentSource.CSV  # the ledger's source for every row applied from a file
# A "no" the shopper gave themselves: a row without a date (no proof they said yes since)
# never subscribes them again.
THEIR_OWN = (*ConsentSource.shoppers_own(), ConsentSource.COMPLAINT)
LOOKUP_SIZE = 500  # addresses per IN (...) on SQLite


def apply_rows(merchant_id: int, ref_prefix: str, rows: list[Row]) -> tuple[int, int]:
    """Move each address to its row's status when the row outranks the status held (or the
    address is new), and an undated row only to another status than the one held, never out
    of an unsubscribe the shopper made (THEIR_OWN), with a ledger entry `ref_prefix + line`
    for each; returns how many moved, and how many undated rows had nothing to change (their
    address already of their status, or unsubscribed by the shopper). One row per address.
    The caller commits."""
    if not rows:
        return 0, 0
    if db.session.get_bind().dialect.name == "postgresql":
        return consent_csv_pg.apply_rows(merchant_id, ref_prefix, SOURCE, THEIR_OWN, rows)
    return _apply_rows(merchant_id, ref_prefix, rows)


def _apply_rows(merchant_id: int, ref_prefix: str, rows: list[Row]) -> tuple[int, int]:
    held = {}  # address -> (contact id, updated_at, status, source)
    emails = [r.email for r in rows]
    for start in range(0, len(emails), LOOKUP_SIZE):
        held.update(
            (email, (id_, when, status, source))
            for id_, email, when, status, source in db.session.execute(
                select(*HELD).where(
                    Contact.merchant_id == merchant_id,
                    Contact.email.in_(emails[start : start + LOOKUP_SIZE]),
                )
            )
        )
    rows = [
        r._replace(occurred_at=datetime.fromtimestamp(r.occurred_at, timezone.utc)) for r in rows
    ]
    moved = [r for r in rows if r.email not in held or _moves(r, *held[r.email][1:])]
    unchanged = sum(1 for r in rows if r.email in held and _held_already(r, *held[r.email][2:]))
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
    return len(moved), unchanged


HELD = (Contact.id, Contact.email, Contact.updated_at, Contact.status, Contact.source)


def _moves(row: Row, held_at: datetime, held_status: str, held_source: str) -> bool:
    if _held_already(row, held_status, held_source):
        return False
    return outranks(row.occurred_at, row.status, held_at, held_status)


def _held_already(row: Row, held_status: str, held_source: str) -> bool:
    """An undated row ("now") for an address already of its status, or whose "no" is the
    shopper's own (not the merchant's to undo without a date)."""
    return not row.dated and (row.status == held_status or held_source in THEIR_OWN)


def outranks(when, status: str, held_when, held_status: str) -> bool:
    """Whether a status dated `when` replaces one dated `held_when` (both datetimes, or both
    Unix seconds): when newer, or as new and an unsubscribe of a subscribed address (the safer
    of the two). As new: the same time, or the whole second of it, since the download writes
    whole seconds: a row it wrote, changed to an unsubscribe, is not older than its status."""
    if when > held_when:
        return True
    as_new = when == held_when or when == _whole_second(held_when)
    return as_new and status == ConsentStatus.UNSUBSCRIBED != held_status


def _whole_second(when):
    return when.replace(microsecond=0) if isinstance(when, datetime) else math.floor(when)


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
