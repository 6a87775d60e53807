"""Addresses a merchant erased on request: only a keyed hash of each is kept, so that the
address is recognised (never emailed, never stored again) without being held."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Iterable

from flask import current_app
from sqlalchemy import exists, func, select

from portal import db
from portal.models import CsvImportReject, ErasedAddress
from portal.services import addresses

LOOKUP_SIZE = 500  # hashes per query


def email_hash(email: str, secret: str) -> str:
    """The keyed hash erasure keeps of an address (HMAC-SHA256, hex): the same for any case."""
    return hmac.new(secret.encode(), addresses.normal(email).encode(), hashlib.sha256).hexdigest()


def is_erased(merchant_id: int, email: str, secret: str) -> bool:
    """Whether this merchant erased the address: it must never be emailed again."""
    key = (merchant_id, email_hash(email, secret))
    return db.session.get(ErasedAddress, key) is not None


# Erasures and CSV batches of one merchant: transaction advisory locks (not a lock on the
# merchant's row, which every insert's foreign-key check waits on: a shopper's unsubscribe of
# the address being erased would deadlock with the erasure).
ERASING = 7002


def hold_merchant(merchant_id: int) -> None:
    """For an erasure: until the caller's transaction ends, a CSV batch of the merchant waits
    before it reads which addresses are erased (see read_erased_after_erasures)."""
    db.hold(ERASING, merchant_id)


def read_erased_after_erasures(merchant_id: int) -> None:
    """For a CSV batch: wait for an erasure of the merchant in progress to commit, so that the
    batch, reading erased addresses next, cannot write an address erased meanwhile back."""
    db.hold(ERASING, merchant_id, shared=True)


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


def without_erased(changes: list) -> list:
    """`changes` (anything with a merchant_id and an email) but those of addresses their
    merchant erased: a checkout after an erasure records no consent, as CSV rows and manual
    changes record none, so the address never reads as subscribed again."""
    by_merchant: dict[int, set[str]] = {}
    for change in changes:
        by_merchant.setdefault(change.merchant_id, set()).add(change.email)
    erased = {m: erased_among(m, emails) for m, emails in by_merchant.items()}
    return [change for change in changes if change.email not in erased[change.merchant_id]]


def rejects_holding(merchant_id: int, email: str, imports) -> list[int]:
    """The rejected CSV rows of `imports` (a select of the merchant's import ids) that hold
    `email` as written, whatever its case or what surrounds it ("'=A@x.com ", "a@x.com,2020"),
    but not inside a longer address ("other@x.com" does not hold "er@x.com")."""
    whole = re.compile(rf"(?<![\w.+-]){re.escape(email)}(?![\w.-])", re.IGNORECASE)
    found = db.session.execute(
        select(CsvImportReject.id, CsvImportReject.value).where(
            CsvImportReject.import_id.in_(imports), may_hold(CsvImportReject.value, email)
        )
    )
    return [id_ for id_, value in found if whole.search(value)]


def may_hold(column, email: str):
    """A condition true of every value that holds `email` in any case (and of a few more, which
    the caller checks again): its longest run of ASCII characters, such as "ser@x.com" of
    "üser@x.com", in the value in any case. A database's lower() may fold ASCII letters alone
    (SQLite's does, and PostgreSQL's in the C locale), so Ü would never meet ü there."""
    core = max(re.findall(r"[\x00-\x7f]+", email.lower()), key=len, default="")
    return func.lower(column).contains(core, autoescape=True)


ERASED_EMAIL = "erased@erased.invalid"  # in place of an erased address in Stripe events
# Where a Stripe object holds a person's details beside their address (a Checkout Session's
# customer_details and shipping_details, a charge's billing_details, an older shipping).
PERSON_KEYS = frozenset({"customer_details", "shipping_details", "billing_details", "shipping"})
PERSON_FIELDS = ("name", "phone", "address", "individual_name", "business_name", "tax_ids")


def scrubbed_payload(payload: str, email: str) -> str:
    """A Stripe event's body that held `email` (any case), with the address replaced and the
    name, phone and postal address beside it emptied: nothing in it names the person any more.
    A body that is not JSON has only the address replaced; one without it is given back as it
    was."""
    pattern = re.compile(re.escape(email), re.IGNORECASE)
    try:
        body = json.loads(payload)
    except ValueError:
        return pattern.sub(ERASED_EMAIL, payload)
    scrubbed = _scrubbed(body, pattern)
    return payload if scrubbed == body else json.dumps(scrubbed, ensure_ascii=False)


def _scrubbed(value, pattern: re.Pattern, person: bool = False):
    if isinstance(value, str):
        return pattern.sub(ERASED_EMAIL, value)
    if isinstance(value, list):
        return [_scrubbed(item, pattern) for item in value]
    if not isinstance(value, dict):
        return value
    return {
        key: None
        if person and key in PERSON_FIELDS and item is not None
        else _scrubbed(item, pattern, key in PERSON_KEYS)
        for key, item in value.items()
    }
