"""A checkout.session object as the mirror keeps it: each value read into the type and
length of its column, or a ValueError naming the field that does not fit. The webhook endpoint
refuses such an event (400) before storing it; the pipeline checks again before applying."""

from __future__ import annotations

from datetime import datetime, timezone
from urllib.parse import urlsplit

from portal import db
from portal.mail.mime import BIDI, CONTROL, HIDDEN
from portal.models import CheckoutSession, SessionStatus
from portal.services import addresses

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


def shopper_name(value):
    """The shopper's name on one line (it may go into a mail header), cut to the column, without
    marks that turn text around or hide it: the shopper types it, and in a subject such marks
    make the merchant's email read as something else."""
    if not isinstance(value, str):
        return value  # None, or a wrong type that checked() reports
    name = " ".join(BIDI.sub("", HIDDEN.sub("", CONTROL.sub(" ", value))).split())
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


def fields(obj: dict, seen_at: datetime) -> dict:
    """The mirror's columns from a session object (everything but the ordering and history),
    `seen_at` standing for its creation when it gives none; checked() then checks their types
    and lengths. ValueError when a part that must be an object is not."""
    details = _part(obj, "customer_details")
    recovery = _part(_part(obj, "after_expiration"), "recovery")
    email = details.get("email") or obj.get("customer_email")
    return dict(
        livemode=obj.get("livemode") is True,  # a forged "false" is no live session
        created_at=_ts(obj.get("created")) or seen_at,
        expires_at=_ts(obj.get("expires_at")),
        status=obj.get("status") or SessionStatus.OPEN,
        payment_status=obj.get("payment_status") or "unpaid",
        amount_total=obj.get("amount_total"),
        currency=obj["currency"].lower()[:3]
        if isinstance(obj.get("currency"), str) and obj["currency"]
        else None,
        customer=_id(obj.get("customer")) or _id(obj.get("customer_account")),
        email=_email(email),
        customer_name=shopper_name(details.get("name")),
        locale=_locale(obj.get("locale")),
        country=_country(details.get("address")),
        recovered_from=obj.get("recovered_from"),
        consent_promotions=_part(obj, "consent").get("promotions"),
        recovery_url=_web_url(recovery.get("url")),
        recovery_expires_at=_ts(recovery.get("expires_at")),
        payment_link=_id(obj.get("payment_link")),
        payment_intent=_id(obj.get("payment_intent")),
    )


def _part(obj: dict, name: str) -> dict:
    """A part of the session that is an object when present ({} for none)."""
    value = obj.get(name)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"malformed checkout.session: {name} is not an object")
    return value


STATUSES = set(SessionStatus)
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
    "currency",
    "consent_promotions",
)
AMOUNT_MAX = 2**63 - 1  # the column is a bigint


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
    for name, allowed in (("status", STATUSES), ("payment_status", PAYMENT_STATUSES)):
        if not isinstance(values[name], str) or values[name] not in allowed:
            problems.append(f"{name} {str(values[name])[:40]!r}")
    amount = values["amount_total"]
    if amount is not None and (
        not isinstance(amount, int) or isinstance(amount, bool) or not 0 <= amount <= AMOUNT_MAX
    ):
        problems.append(f"amount_total {str(amount)[:40]!r}")
    for name in OPTIONAL_STRINGS:
        value, limit = values[name], _LIMITS.get(name, 2000)
        if value is not None and not isinstance(value, str):
            problems.append(f"{name} of type {type(value).__name__}")
        elif value is not None and len(value) > limit:
            problems.append(f"{name} longer than {limit} characters")
        elif value is not None and not db.storable_text(value):
            problems.append(f"{name} holding a NUL or an unpaired surrogate")
    if problems:
        raise ValueError("malformed checkout.session: " + ", ".join(problems))
    return values


def check(obj: dict) -> None:
    """ValueError naming what in a checkout.session object the mirror cannot keep: its id, a
    live mode that is not true or false, a value of the wrong type, range or length."""
    session_id(obj)
    if not isinstance(obj.get("livemode"), bool):
        raise ValueError("malformed checkout.session: livemode is not true or false")
    checked(fields(obj, datetime.now(timezone.utc)))


def session_id(obj) -> str:
    """The session's id; ValueError naming it when it is missing or longer than its column."""
    value = obj.get("id") if isinstance(obj, dict) else None
    if not isinstance(value, str) or not value or len(value) > _ID_LENGTH:
        raise ValueError(f"malformed checkout.session: id {str(value)[:40]!r}")
    return value


_ID_LENGTH = CheckoutSession.session_id.type.length
