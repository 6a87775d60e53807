"""The portal's side of bench/csv.py, run in its --measure child: the import as the upload
page and its job run it, the export as the download streams it, the list's queries.

Not a benchmark itself (`make bench` skips the `_` files): csv.py uses it.
"""

from __future__ import annotations

import time
from pathlib import Path


def import_file(app, merchant_id: int, path: Path) -> tuple[float, object]:
    """Seconds to import the file as the upload page and its job do; (rows read, applied,
    skipped as older, rejected)."""
    from portal import db
    from portal.models import Merchant, User
    from portal.services import csv_imports

    with app.app_context():
        merchant = db.session.get(Merchant, merchant_id)
        user = db.session.query(User).filter_by(merchant_id=merchant_id).first()
        began = time.perf_counter()
        with path.open("rb") as stream:
            imp = csv_imports.start_import(merchant, user, path.name, stream)
        db.session.commit()
        csv_imports.process(imp.id)
        seconds = time.perf_counter() - began
        return seconds, (imp.rows_read, imp.applied, imp.skipped_older, imp.rejected)


def export_all(app, merchant_id: int) -> tuple[float, int]:
    """Seconds to export every contact as the download streams them, and the bytes written."""
    from portal import db
    from portal.models import Merchant
    from portal.services import consent_export

    with app.app_context():
        merchant = db.session.get(Merchant, merchant_id)
        began, size = time.perf_counter(), 0
        with open("/dev/null", "w") as sink:
            for chunk in consent_export.export_chunks(merchant):
                sink.write(chunk)
                size += len(chunk)
        return time.perf_counter() - began, size


def list_pages(app, merchant_id: int, rounds: int = 20) -> dict[str, float]:
    """p95 milliseconds of the subscriptions list's queries over the N imported addresses:
    `contact_list.page` (what the page shows) for the first page, a page half-way down, one
    status and an address prefix; and `contact_list.counts` (its tabs' figures)."""
    from sqlalchemy import func, select

    from portal import db
    from portal.models import Contact, Merchant
    from portal.services import contact_list

    with app.app_context():
        merchant = db.session.get(Merchant, merchant_id)
        mine = select(Contact.email).where(Contact.merchant_id == merchant_id)
        held = db.session.scalar(select(func.count()).select_from(mine.subquery()))
        middle = db.session.scalar(mine.order_by(Contact.email).offset(held // 2).limit(1))
        cases = {
            "first": {},
            "deep": {"after": middle},
            "unsubscribed": {"status": "unsubscribed"},
            "prefix": {"query": "customer0123"},
        }
        calls = {
            name: lambda a=arguments: contact_list.page(merchant, **a)
            for name, arguments in cases.items()
        }
        calls["counts"] = lambda: contact_list.counts(merchant)
        figures = {}
        for name, call in calls.items():
            times = []
            for _ in range(rounds):
                began = time.perf_counter()
                call()
                times.append((time.perf_counter() - began) * 1000)
                db.session.rollback()
            figures[name] = round(sorted(times)[int(0.95 * (rounds - 1))], 2)
        return figures
