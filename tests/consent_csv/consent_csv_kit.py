"""Running subscription CSV imports and reading back what they held, logged and rejected."""

from __future__ import annotations

import io
from datetime import datetime, timezone

from sqlalchemy import select

from portal.models import ConsentChange, Contact, CsvImport, CsvImportReject
from portal.services import consent, csv_imports
from portal.services.consent import Change

HEADER = "Email address,Subscription status,Updated at\r\n"
T1 = datetime(2023, 10, 23, 20, 58, 2, tzinfo=timezone.utc)


def run_import(owner, text: str | bytes, name: str = "subs.csv") -> CsvImport:
    """Store a file as the page does, then run the job."""
    data = text.encode() if isinstance(text, str) else text
    imp = csv_imports.start_import(owner.merchant, owner, name, io.BytesIO(data))
    csv_imports.db.session.commit()
    csv_imports.process(imp.id)
    return csv_imports.db.session.get(CsvImport, imp.id)


def held(db) -> dict:
    db.expire_all()
    rows = {c.email: (c.status, c.updated_at) for c in db.scalars(select(Contact))}
    db.rollback()
    return rows


def ledger(db) -> list:
    rows = sorted(
        (c.email, c.status, c.source, c.source_ref) for c in db.scalars(select(ConsentChange))
    )
    db.rollback()
    return rows


def rejects(db, imp) -> list[tuple[int, str]]:
    rows = db.scalars(
        select(CsvImportReject)
        .where(CsvImportReject.import_id == imp.id)
        .order_by(CsvImportReject.line)
    )
    return [(r.line, r.reason) for r in rows]


def record(owner, email, status, when, ref="cs_1"):
    consent.record([Change(owner.merchant_id, email, status, "checkout_session", ref, when)])
    csv_imports.db.session.commit()
