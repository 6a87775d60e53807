"""The Checkout Session mirror: snapshots from events, applied newest-wins, per merchant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from urllib.parse import urlsplit

from sqlalchemy import insert, select, tuple_

from portal import db
from portal.mail.mime import CONTROL
from portal.models import CheckoutSession
from portal.services import addresses


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


LAST_SECOND = 253_402_300_800  # 10000-01-01 UTC: past the years a datetime holds


def _ts(value) -> datetime | None:
    """A Unix time Stripe sent, as a datetime; None for what is not one a datetime can hold
    (a forged event's 10**30 is no time at all, and must not fail the whole event forever)."""
    if not isinstance(value, int) or not 0 <= value < LAST_SECOND:
        return None
    return datetime.fromtimestamp(value, timezone.utc)


def _id(value) -> str | None:
    """An id whether Stripe sent it plain or expanded into an object."""
    return value.get("id") if isinstance(value, dict) else value


def _locale(value) -> str | None:
    """The language the shopper saw Checkout in ("fr-CA", "auto"), cut to the column's length."""
    if not isinstance(value, str) or not value:
        return None
    return value[: CheckoutSession.locale.type.length]


def _country(address) -> str | None:
    """The billing address's country ("DE"), when it is two letters: quiet hours may follow it."""
    country = address.get("country") if isinstance(address, dict) else None
    ok = isinstance(country, str) and len(country) == 2 and country.isascii() and country.isalpha()
    return country.upper() if ok else None


def _email(value) -> str | None:
    """The address in its one spelling (addresses.normal); None for none, or for one holding
    a control character (it could not go into a mail header, and PostgreSQL refuses NUL)."""
    if not isinstance(value, str) or not value.strip() or CONTROL.search(value):
        return None
    return addresses.normal(value)


def _name(value):
    """The shopper's name on one line (it may go into a mail header), cut to the column."""
    if not isinstance(value, str):
        return value  # None, or a wrong type that checked() reports
    name = " ".join(CONTROL.sub(" ", value).split())
    return name[: CheckoutSession.customer_name.type.length] or None


def _web_url(value):
    """A recovery URL the link may redirect to: http(s) with a host; None for any other
    (a javascript: or data: URL must never be a redirect's target)."""
    if not isinstance(value, str):
        return value
    try:
        parts = urlsplit(value)
        return value if parts.scheme in ("https", "http") and parts.hostname else None
    except ValueError:  # e.g. an unclosed [ in the host
        return None


def fields(snap: Snapshot) -> dict:
    """The mirror's columns from a snapshot (everything but the ordering and history)."""
    obj = snap.obj
    details = obj.get("customer_details") or {}
    recovery = (obj.get("after_expiration") or {}).get("recovery") or {}
    email = details.get("email") or obj.get("customer_email")
    return dict(
        livemode=bool(obj.get("livemode")),
        created_at=_ts(obj.get("created")) or snap.event_created,
        expires_at=_ts(obj.get("expires_at")),
        status=obj.get("status") or "open",
        payment_status=obj.get("payment_status") or "unpaid",
        amount_total=obj.get("amount_total"),
        currency=obj["currency"].lower()[:3]
        if isinstance(obj.get("currency"), str) and obj["currency"]
        else None,
        customer=_id(obj.get("customer")) or _id(obj.get("customer_account")),
        email=_email(email),
        customer_name=_name(details.get("name")),
        locale=_locale(obj.get("locale")),
        country=_country(details.get("address")),
        recovered_from=obj.get("recovered_from"),
        consent_promotions=(obj.get("consent") or {}).get("promotions"),
        recovery_url=_web_url(recovery.get("url")),
        recovery_expires_at=_ts(recovery.get("expires_at")),
        payment_link=_id(obj.get("payment_link")),
        payment_intent=_id(obj.get("payment_intent")),
    )


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
    theirs = checked(fields(snap))
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


STATUSES = {"open", "complete", "expired"}
PAYMENT_STATUSES = {"paid", "unpaid", "no_payment_required"}
OPTIONAL_STRINGS = (
    "customer",
    "customer_name",
    "locale",
    "recovered_from",
    "recovery_url",
    "payment_link",
    "payment_intent",
    "email",
)


# The longest string each column holds (the others: 2,000 characters).
_LIMITS = {
    name: CheckoutSession.__table__.c[name].type.length
    for name in OPTIONAL_STRINGS
    if getattr(CheckoutSession.__table__.c[name].type, "length", None)
}


def checked(values: dict) -> dict:
    """The fields if each has the type and range Stripe documents; ValueError naming the first
    that does not (a malformed event then fails into retries instead of corrupting the mirror)."""
    problems = []
    if values["status"] not in STATUSES:
        problems.append(f"status {values['status']!r}")
    if values["payment_status"] not in PAYMENT_STATUSES:
        problems.append(f"payment_status {values['payment_status']!r}")
    amount = values["amount_total"]
    if amount is not None and (
        not isinstance(amount, int) or isinstance(amount, bool) or amount < 0
    ):
        problems.append(f"amount_total {amount!r}")
    for name in OPTIONAL_STRINGS:
        value, limit = values[name], _LIMITS.get(name, 2000)
        if value is not None and not isinstance(value, str):
            problems.append(f"{name} of type {type(value).__name__}")
        elif value is not None and len(value) > limit:
            problems.append(f"{name} longer than {limit} characters")
    if problems:
        raise ValueError("malformed checkout.session: " + ", ".join(problems))
    return values


def _session_id(obj) -> str:
    """The session's id; ValueError naming it when it is missing or longer than its column."""
    value = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(value, str) or not value or len(value) > _ID_LENGTH:
        raise ValueError(f"malformed checkout.session: id {str(value)[:40]!r}")
    return value


_ID_LENGTH = CheckoutSession.session_id.type.length


def apply(snapshots: list[Snapshot]) -> list[CheckoutSession]:
    """Upsert the mirror for each snapshot unless a newer one was applied; returns every mirror
    touched. Mirrors are per merchant: an id another merchant holds is never theirs to change
    (tenant isolation; a session id is no secret)."""
    keys = {(s.merchant_id, _session_id(s.obj)) for s in snapshots}
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
    values = checked(fields(snap))
    if mirror.recovery_url:  # Stripe gives a session one link; a send may have confirmed it
        del values["recovery_url"], values["recovery_expires_at"]
    for name, value in values.items():
        setattr(mirror, name, value)
    mirror.async_result = ASYNC_RESULT.get(snap.event_type, mirror.async_result)
    mirror.state_at, mirror.state_rank = snap.order
