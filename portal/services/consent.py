"""The consent ledger: every change of an address's marketing status, and the current status,
where the change expressed most recently wins whatever order changes arrive in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from portal import db
from portal.models import CheckoutSession, ConsentChange, ConsentSource, ConsentStatus, Contact
from portal.models import SessionStatus
from portal.services import addresses

FROM_CHECKOUT = {"opt_in": ConsentStatus.SUBSCRIBED, "opt_out": ConsentStatus.UNSUBSCRIBED}


@dataclass(frozen=True)
class Change:
    merchant_id: int
    email: str
    status: str
    source: str
    source_ref: str
    occurred_at: datetime


def record(changes: list[Change]) -> int:
    """Add each change to the ledger once (same source and ref: a repeat is ignored) and move
    the contact's status when the change is newer. Returns how many changes were new.

    The status moves in the database's own comparison (an upsert that writes only over an
    older date), so a change recorded meanwhile by another transaction (the shopper's
    unsubscribe during an event drain) is never overwritten by an older one. Contacts are
    written in address order, as a CSV import writes them, so that the two never deadlock.
    Two requests recording a new address at once (a double click) both succeed."""
    if not changes:
        return 0
    return db.racing_unique(lambda: _record(changes))


def _record(changes: list[Change]) -> int:
    pairs = {(c.merchant_id, c.email) for c in changes}
    seen = set(
        db.session.execute(
            select(
                ConsentChange.merchant_id,
                ConsentChange.email,
                ConsentChange.source,
                ConsentChange.source_ref,
            ).where(tuple_(ConsentChange.merchant_id, ConsentChange.email).in_(pairs))
        ).all()
    )
    ledger, newest = [], {}
    for change in sorted(changes, key=lambda c: c.occurred_at):
        key = (change.merchant_id, change.email, change.source, change.source_ref)
        if key in seen:
            continue
        seen.add(key)
        ledger.append(dict(change.__dict__))
        # In date order, so the address keeps its newest change (of equal dates, the last).
        newest[(change.merchant_id, change.email)] = change
    if newest:
        db.session.flush()  # this session's own pending writes go first
        db.session.execute(_move_contacts(), [_contact(newest[key]) for key in sorted(newest)])
        _expire_loaded(newest.keys())
    if ledger:
        db.session.execute(insert(ConsentChange), ledger)
    return len(ledger)


def _move_contacts():
    """Insert a contact, or move one held to the row's status unless it holds a newer one. Of
    equal dates the change recorded last wins: these changes are made as they happen (a CSV
    row's date is the file's word, and there an unsubscribe wins: consent_csv_apply)."""
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(Contact.__table__)
    return stmt.on_conflict_do_update(
        index_elements=[Contact.merchant_id, Contact.email],
        set_={name: stmt.excluded[name] for name in ("status", "updated_at", "source")},
        where=Contact.updated_at <= stmt.excluded.updated_at,
    )


def _contact(change: Change) -> dict:
    """The contact row `change` leaves (the values _move_contacts inserts or moves to)."""
    return dict(
        merchant_id=change.merchant_id,
        email=change.email,
        status=change.status,
        updated_at=change.occurred_at,
        source=change.source,
    )


def _expire_loaded(keys) -> None:
    # Contacts this session had loaded are read afresh: the upsert bypassed them.
    for obj in list(db.session.identity_map.values()):
        if (
            isinstance(obj, Contact)
            and (obj.__dict__.get("merchant_id"), obj.__dict__.get("email")) in keys
        ):
            db.session.expire(obj)


def from_sessions(mirrors: list[CheckoutSession]) -> list[Change]:
    """The consent each finished session expressed: opt_in subscribes, opt_out unsubscribes
    (the shopper's latest answer is the one to honour). The one exception: a box left unticked
    on a session that recovers a cart is not counted. That checkout asks again, and a shopper
    who consented on the cart and pays through our email rarely ticks twice; reading it as an
    unsubscribe would take every recovered buyer off the list.

    A session's answer is dated when the shopper could have given it: the session's creation
    (at the latest its completion), never its expiry. An unsubscribe made while a cart was
    still open is newer than that cart's tick, so it stands when the cart expires."""
    changes = []
    for m in mirrors:
        status = FROM_CHECKOUT.get(m.consent_promotions or "")
        when = min(filter(None, (m.created_at, m.completed_at)), default=None)
        if m.recovered_from and status == ConsentStatus.UNSUBSCRIBED:
            continue
        if (
            status
            and m.email
            and addresses.is_email(m.email)  # what the list holds, its CSV must take back
            and when
            and m.livemode  # a test checkout, with any address, never changes the real list
            and m.status in (SessionStatus.COMPLETE, SessionStatus.EXPIRED)
        ):
            changes.append(
                Change(
                    m.merchant_id,
                    m.email,
                    status,
                    ConsentSource.CHECKOUT_SESSION,
                    m.session_id,
                    when,
                )
            )
    return changes
