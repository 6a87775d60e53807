"""The Checkout Session mirror: snapshots from events, applied newest-wins, per merchant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, tuple_

from portal import db
from portal.models import CheckoutSession
from portal.services.session_fields import checked, fields, session_id


# Within one second, an async payment outcome is newer than the completion it follows.
RANK = {
    "checkout.session.completed": 1,
    "checkout.session.expired": 1,
    "checkout.session.async_payment_succeeded": 2,
    "checkout.session.async_payment_failed": 2,
}
ASYNC_RESULT = {
    "checkout.session.async_payment_succeeded": "succeeded",
    "checkout.session.async_payment_failed": "failed",
}


@dataclass(frozen=True)
class Snapshot:
    """One session as an event showed it."""

    merchant_id: int
    event_type: str
    event_created: datetime
    obj: dict

    @property
    def order(self) -> tuple[datetime, int]:
        return self.event_created, RANK.get(self.event_type, 0)


# What a send takes from Stripe's own copy of the session over any webhook's: events sent to a
# direct-mode merchant's endpoint are signed with that merchant's secret, so it could have
# written the link (an open redirect on our domain), the address, the consent, or live mode
# for a test-mode session (whose shoppers are never emailed).
CONFIRMED_AT_SEND = (
    "livemode",
    "email",
    "consent_promotions",
    "recovery_url",
    "recovery_expires_at",
)


def confirm(mirror: CheckoutSession, stripes: dict) -> bool:
    """Replace the mirror's mode, address, consent and recovery link with Stripe's (fetched at
    send time); True when the address changed (what was loaded for the old one no longer holds).
    Checked like any snapshot: ValueError for a malformed answer."""
    snap = Snapshot(mirror.merchant_id, "", mirror.created_at, stripes)
    theirs = checked(fields(snap.obj, snap.event_created))
    changed = theirs["email"] != mirror.email
    for name in CONFIRMED_AT_SEND:
        setattr(mirror, name, theirs[name])
    return changed


CART_ITEMS_KEPT = 100  # Stripe lists at most 100 line items per page, and a page shows them all
CART_NAME_KEPT = 200


def cart_kept(items: list[dict]) -> list[dict]:
    """A cart's line items (stripe_gateway's) as a checkout keeps them: name, quantity, amount,
    currency; names cut short, at most CART_ITEMS_KEPT items."""
    return [
        {
            "name": str(item["name"])[:CART_NAME_KEPT],
            "quantity": _whole(item["quantity"]) or 1,
            "amount": _whole(item["amount"]),
            "currency": item["currency"] if isinstance(item["currency"], str) else None,
        }
        for item in items[:CART_ITEMS_KEPT]
    ]


def _whole(value) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def apply(snapshots: list[Snapshot]) -> list[CheckoutSession]:
    """Upsert the mirror for each snapshot unless a newer one was applied; returns every mirror
    touched. Mirrors are per merchant: an id another merchant holds is never theirs to change
    (tenant isolation; a session id is no secret)."""
    keys = {(s.merchant_id, session_id(s.obj)) for s in snapshots}
    known = {_key(m): m for m in db.session.scalars(select(CheckoutSession).where(_one_of(keys)))}
    touched: dict[tuple[int, str], CheckoutSession] = {}
    new: dict[tuple[int, str], CheckoutSession] = {}
    for snap in sorted(snapshots, key=lambda s: s.order):
        key = (snap.merchant_id, snap.obj["id"])
        mirror = known.get(key)
        if mirror is None:  # built apart from the session, inserted below with the other new ones
            mirror = known[key] = new[key] = CheckoutSession(
                merchant_id=snap.merchant_id, session_id=snap.obj["id"]
            )
        _update(mirror, snap)
        touched[key] = mirror
    touched.update(_insert(list(new.values())))
    return list(touched.values())


def _key(mirror: CheckoutSession) -> tuple[int, str]:
    return mirror.merchant_id, mirror.session_id


def _one_of(keys: set[tuple[int, str]]):
    """Mirrors by (merchant, session id): the pair the unique index leads with, so each is one
    index probe (an id alone would read the whole index)."""
    return tuple_(CheckoutSession.merchant_id, CheckoutSession.session_id).in_(keys)


def _insert(mirrors: list[CheckoutSession]) -> dict[tuple[int, str], CheckoutSession]:
    """Insert new mirrors in one executemany (a short statement the driver parses once; an ORM
    flush would send one placeholder per value of every row) and load them back with their ids."""
    if not mirrors:
        return {}
    columns = [c.key for c in CheckoutSession.__table__.columns if not c.primary_key]
    db.session.execute(
        insert(CheckoutSession), [{c: getattr(m, c) for c in columns} for m in mirrors]
    )
    loaded = db.session.scalars(select(CheckoutSession).where(_one_of({_key(m) for m in mirrors})))
    return {_key(m): m for m in loaded}


def _update(mirror: CheckoutSession, snap: Snapshot) -> None:
    """Facts that only ever become known are kept from any snapshot; the rest only from newer."""
    if snap.event_type == "checkout.session.completed":
        mirror.completed_at = mirror.completed_at or snap.event_created
    if snap.event_type == "checkout.session.expired":
        mirror.expired_at = mirror.expired_at or snap.event_created
    if mirror.state_at is not None and snap.order < (mirror.state_at, mirror.state_rank):
        return
    values = checked(fields(snap.obj, snap.event_created))
    if mirror.recovery_url:  # Stripe gives a session one link; a send may have confirmed it
        del values["recovery_url"], values["recovery_expires_at"]
    for name, value in values.items():
        setattr(mirror, name, value)
    mirror.async_result = ASYNC_RESULT.get(snap.event_type, mirror.async_result)
    mirror.state_at, mirror.state_rank = snap.order
