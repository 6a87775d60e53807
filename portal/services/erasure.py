"""Addresses a merchant erased on request: only a keyed hash of each is kept, so that the
address is recognised (never emailed, never stored again) without being held."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import exists, func, select

from portal import db
from portal.models import CsvImportReject, ErasedAddress

LOOKUP_SIZE = 500  # hashes per query


def email_hash(email: str, secret: str) -> str:
    """The keyed hash erasure keeps of an address (HMAC-SHA256, hex): the same for any case."""
    normal = (email or "").strip().lower()
    return hmac.new(secret.encode(), normal.encode(), hashlib.sha256).hexdigest()


def is_erased(merchant_id: int, email: str, secret: str) -> bool:
    """Whether this merchant erased the address: it must never be emailed again."""
    key = (merchant_id, email_hash(email, secret))
    return db.session.get(ErasedAddress, key) is not None


def erased_among(merchant_id: int, emails: Iterable[str]) -> set[str]:
    """The addresses among `emails` this merchant erased: one query when it never erased any,
    else one per LOOKUP_SIZE addresses (hashed with the app's SECRET_KEY)."""
    if not db.session.scalar(select(exists().where(ErasedAddress.merchant_id == merchant_id))):
        return set()
    secret = current_app.config["SECRET_KEY"]
    by_hash = {email_hash(email, secret): email for email in emails}
    hashes, found = list(by_hash), set()
    for at in range(0, len(hashes), LOOKUP_SIZE):
        found.update(
            db.session.scalars(
                select(ErasedAddress.email_hash).where(
                    ErasedAddress.merchant_id == merchant_id,
                    ErasedAddress.email_hash.in_(hashes[at : at + LOOKUP_SIZE]),
                )
            )
        )
    return {by_hash[hashed] for hashed in found}


def rejects_holding(merchant_id: int, email: str, imports) -> list[int]:
    """The rejected CSV rows of `imports` (a select of the merchant's import ids) that hold
    `email` as written, whatever its case or what surrounds it ("'=A@x.com ", "a@x.com,2020"),
    but not inside a longer address ("other@x.com" does not hold "er@x.com")."""
    whole = re.compile(rf"(?<![\w.+-]){re.escape(email)}(?![\w.-])", re.IGNORECASE)
    found = db.session.execute(
        select(CsvImportReject.id, CsvImportReject.value).where(
            CsvImportReject.import_id.in_(imports),
            func.lower(CsvImportReject.value).contains(email, autoescape=True),
        )
    )
    return [id_ for id_, value in found if whole.search(value)]
