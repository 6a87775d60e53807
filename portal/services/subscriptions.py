"""The merchant's subscriptions: addresses and their consent, one customer's whole record, manual
changes, and the privacy requests (export everything about an address, or erase it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update

from portal import db
from portal.models import CheckoutSession, ConsentChange, ConsentSource, ConsentStatus, Contact
from portal.models import CsvImport, CsvImportReject, EmailSend, ErasedAddress, EventStatus
from portal.models import Merchant, OutboxMessage, RecoveryCase, StripeEvent, User
from portal.services import addresses, consent, consent_authors, erasure, events
from portal.services.erasure import email_hash

STATUS = {ConsentStatus.SUBSCRIBED: "Subscribed", ConsentStatus.UNSUBSCRIBED: "Unsubscribed"}
# Each source of a change in words (who it comes from: consent_authors).
SOURCES = {
    ConsentSource.CHECKOUT_SESSION: "Checkout",
    ConsentSource.CSV: "CSV upload",
    ConsentSource.UNSUBSCRIBE_LINK: "Unsubscribe link",
    ConsentSource.ONE_CLICK: "One-click unsubscribe",
    ConsentSource.MANUAL: "Changed by hand",
    ConsentSource.BOUNCE: "Bounce",
    ConsentSource.COMPLAINT: "Complaint",
}
CUSTOMER_LIMIT = 50  # carts and emails shown on a customer page (the export has them all)
HISTORY_LIMIT = 200  # consent changes shown on it (the export has them all too)


class SubscriptionError(ValueError):
    """A change that cannot be made; the message is for the person."""


def normalize(email: str | None) -> str:
    """An address in the one spelling the list keeps (addresses.normal)."""
    return addresses.normal(email)


def is_address(email: str | None) -> bool:
    """Whether `email`, normalised, is a complete address (name@example.com), by the rule of
    the CSV upload: every address the list holds can be changed, erased and uploaded again."""
    return addresses.is_email(normalize(email))


def source_words(source: str, status: str | None = None) -> str:
    """The source in words; with the status, a checkout's says which way the box was left
    (a buyer who left it unticked reads as such, not as one who unsubscribed). The list and
    the history read the same."""
    if source == ConsentSource.CHECKOUT_SESSION and status in CHECKOUT_ANSWERS:
        return CHECKOUT_ANSWERS[status]
    return SOURCES.get(source, source.replace("_", " ").capitalize())


# A checkout's answer in words: the box a shopper ticks, or leaves unticked, is what it records.
CHECKOUT_ANSWERS = {
    ConsentStatus.SUBSCRIBED: "Checkout: agreed to marketing emails",
    ConsentStatus.UNSUBSCRIBED: "Checkout: left the marketing box unticked",
}


@dataclass(frozen=True)
class HistoryLine:
    change: ConsentChange
    source: str  # in words
    who: str
    cart_id: int | None = None  # the cart's page, for a change a checkout made
    uploaded_at: datetime | None = None  # for a change from a CSV file, when it was uploaded
    import_id: int | None = None  # and the import's page


@dataclass(frozen=True)
class Customer:
    email: str
    contact: Contact | None
    history: list[HistoryLine]  # newest first
    checkouts: list[tuple[CheckoutSession, RecoveryCase | None]]  # newest first
    sends: list[EmailSend]  # newest first
    history_total: int = 0  # how many changes the ledger holds, when history shows fewer
    rejected: Sequence[tuple[CsvImportReject, CsvImport]] = ()  # upload rows that hold it


def customer(merchant: Merchant, email: str) -> Customer | None:
    """All the merchant holds about one address (compared case-insensitively), newest first;
    None when it holds nothing (as for a value with a NUL, which no address holds and
    PostgreSQL refuses in a query)."""
    email = normalize(email)
    if "\x00" in email:
        return None
    contact = held_contact(merchant, email)
    changes = ledger_of(merchant, email, HISTORY_LIMIT + 1)
    total = _ledger_count(merchant, email) if len(changes) > HISTORY_LIMIT else 0
    changes = changes[:HISTORY_LIMIT]
    checkouts = checkouts_of(merchant, email, CUSTOMER_LIMIT)
    sends = sends_to(merchant, email, CUSTOMER_LIMIT)
    rejected = rejected_rows_of(merchant, email, CUSTOMER_LIMIT)
    if contact is None and not (changes or checkouts or sends or rejected):
        return None
    carts = {s.session_id: case.id for s, case in checkouts if case is not None}
    history = [
        HistoryLine(c, source_words(c.source, c.status), by.who, _cart(c, carts), *by[1:])
        for c, by in zip(changes, consent_authors.of(merchant, changes))
    ]
    return Customer(email, contact, history, checkouts, sends, total, rejected)


def _cart(change: ConsentChange, carts: dict[str, int]) -> int | None:
    return (
        carts.get(change.source_ref) if change.source == ConsentSource.CHECKOUT_SESSION else None
    )


def rejected_rows_of(
    merchant: Merchant, email: str, limit: int | None = None
) -> list[tuple[CsvImportReject, CsvImport]]:
    """The rejected rows of the merchant's uploads that hold `email` (as erasure finds them, to
    remove them), with their import, newest upload first."""
    imports = select(CsvImport.id).where(CsvImport.merchant_id == merchant.id)
    ids = erasure.rejects_holding(merchant.id, email, imports)
    if not ids:
        return []
    stmt = (
        select(CsvImportReject, CsvImport)
        .join(CsvImport, CsvImport.id == CsvImportReject.import_id)
        .where(CsvImportReject.id.in_(ids))
        .order_by(CsvImport.id.desc(), CsvImportReject.line)
        .limit(limit)
    )
    return [tuple(row) for row in db.session.execute(stmt)]


def held_contact(merchant: Merchant, email: str) -> Contact | None:
    """The merchant's contact row of `email` (spelled as the list keeps it, see normalize), or
    None when the list has none."""
    where = (Contact.merchant_id == merchant.id, Contact.email == email)
    return db.session.scalar(select(Contact).where(*where))


def ledger_of(merchant: Merchant, email: str, limit: int | None = None) -> list[ConsentChange]:
    """The address's consent changes, newest first; the `limit` newest when one is given."""
    stmt = select(ConsentChange).where(
        ConsentChange.merchant_id == merchant.id, ConsentChange.email == email
    )
    order = (ConsentChange.occurred_at.desc(), ConsentChange.id.desc())
    return list(db.session.scalars(stmt.order_by(*order).limit(limit)))


def _ledger_count(merchant: Merchant, email: str) -> int:
    where = (ConsentChange.merchant_id == merchant.id, ConsentChange.email == email)
    return db.session.scalar(select(func.count()).select_from(ConsentChange).where(*where))


def checkouts_of(merchant: Merchant, email: str, limit: int | None):
    """The address's checkouts with their recovery case (None if none), newest first."""
    stmt = (
        select(CheckoutSession, RecoveryCase)
        .outerjoin(RecoveryCase, RecoveryCase.checkout_session_id == CheckoutSession.id)
        .where(CheckoutSession.merchant_id == merchant.id, CheckoutSession.email == email)
        .order_by(CheckoutSession.created_at.desc(), CheckoutSession.id.desc())
    )
    return [tuple(row) for row in db.session.execute(stmt.limit(limit)).all()]


def sends_to(merchant: Merchant, email: str, limit: int | None) -> list[EmailSend]:
    """The recovery emails sent to the address, newest first."""
    stmt = select(EmailSend).where(
        EmailSend.merchant_id == merchant.id, EmailSend.to_address == email
    )
    order = (EmailSend.created_at.desc(), EmailSend.id.desc())
    return list(db.session.scalars(stmt.order_by(*order).limit(limit)))


# The sources by which the shopper, not the merchant, said no.
SELF_UNSUBSCRIBES = frozenset((*ConsentSource.shoppers_own(), ConsentSource.COMPLAINT))


def unsubscribed_themselves(contact: Contact | None) -> bool:
    """Whether the address's current "no" came from the shopper."""
    return (
        contact is not None
        and contact.status == ConsentStatus.UNSUBSCRIBED
        and contact.source in SELF_UNSUBSCRIBES
    )


# What a manual change did: became the status, was already it (nothing recorded), or was
# recorded but outranked by a change dated later (a CSV row's, say).
CHANGED, UNCHANGED, OUTRANKED = "changed", "unchanged", "outranked"


def change(
    merchant: Merchant,
    user: User,
    email: str,
    status: str,
    now: datetime,
    secret: str,
    asked_again: bool = False,
) -> str:
    """Record a manual subscribe or unsubscribe by `user` in the ledger; CHANGED, UNCHANGED
    (the address holds that status already: nothing is recorded) or OUTRANKED. An address the
    merchant erased is refused: nothing is recorded about it again. So is subscribing again a
    shopper who unsubscribed themselves, unless `asked_again` (the person says they asked,
    which the history then says)."""
    email = normalize(email)
    if not is_address(email):
        raise SubscriptionError("Enter a complete email address, like name@example.com.")
    if erasure.is_erased(merchant.id, email, secret):
        raise SubscriptionError(
            f"{email} was erased on request: it is never emailed again, and nothing more is "
            "recorded about it."
        )
    if status not in STATUS:
        raise SubscriptionError("Choose Subscribed or Unsubscribed.")
    held = held_contact(merchant, email)
    if held is not None and held.status == status:
        return UNCHANGED
    asked = status == ConsentStatus.SUBSCRIBED and unsubscribed_themselves(held)
    if asked and not asked_again:
        raise SubscriptionError(
            f"{email} unsubscribed themselves: subscribe them again only when they ask you to, "
            "and tick the box that says so."
        )
    ref = f"user:{user.id}:{now.isoformat()}{consent_authors.ASKED if asked else ''}"
    consent.record([consent.Change(merchant.id, email, status, ConsentSource.MANUAL, ref, now)])
    db.session.flush()
    return CHANGED if held_contact(merchant, email).status == status else OUTRANKED


def erase(merchant: Merchant, email: str, secret: str) -> bool:
    """Forget an address for this merchant and keep only its keyed hash (erasure.is_erased). Its
    checkouts and emails stay as anonymous rows, so carts and the dashboard still count them.
    Whether the merchant held anything about it. Idempotent."""
    events.hold_drains()
    erasure.hold_merchant(merchant.id)
    email, hashed = normalize(email), email_hash(email, secret)
    held = customer(merchant, email) is not None
    for statement in _forgetting(merchant.id, email, hashed):
        db.session.execute(statement)
    _scrub_events(merchant.id, email)
    if db.session.get(ErasedAddress, (merchant.id, hashed)) is None:
        db.session.add(ErasedAddress(merchant_id=merchant.id, email_hash=hashed))
    db.session.flush()
    return held


def _forgetting(m: int, email: str, hashed: str) -> tuple:
    """What takes the address out of the ledger, checkouts, emails sent, the outbox and CSV
    rejects; an email row keeps the hash in its place (its address column is required)."""
    imports = select(CsvImport.id).where(CsvImport.merchant_id == m)
    return (  # checkouts before the contact: the order an event drain writes them in
        update(CheckoutSession)
        .where(CheckoutSession.merchant_id == m, CheckoutSession.email == email)
        .values(email=None, customer_name=None),
        delete(Contact).where(Contact.merchant_id == m, Contact.email == email),
        delete(ConsentChange).where(ConsentChange.merchant_id == m, ConsentChange.email == email),
        update(EmailSend)
        .where(EmailSend.merchant_id == m, EmailSend.to_address == email)
        .values(
            to_address=f"{addresses.ERASED_PREFIX}{hashed}",
            last_error=func.replace(EmailSend.last_error, email, "[erased]"),
        ),
        delete(OutboxMessage).where(
            OutboxMessage.merchant_id == m, OutboxMessage.to_address == email
        ),
        delete(CsvImportReject).where(
            CsvImportReject.id.in_(erasure.rejects_holding(m, email, imports))
        ),
    )


def _scrub_events(merchant_id: int, email: str) -> None:
    """Take the address, and the name, phone and postal address beside it, out of the raw
    bodies of applied Stripe events (pending ones still have to be applied: the engine skips
    erased addresses when they are)."""
    stmt = select(StripeEvent).where(
        StripeEvent.merchant_id == merchant_id,
        StripeEvent.status != EventStatus.PENDING,
        erasure.may_hold(StripeEvent.payload, email),
    )
    for event in db.session.scalars(stmt):
        event.payload = erasure.scrubbed_payload(event.payload, email)
