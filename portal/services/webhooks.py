"""Receiving Stripe webhooks: verify, store once, acknowledge. Applying them is events.py's job."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime, timezone

from stripe import SignatureVerificationError, WebhookSignature

from portal import db
from portal import group_commit, sealing
from portal.models import ConnectMethod, EventSource, EventStatus, StripeEvent, StripeAccount
from portal.services import session_fields

MAX_BODY_BYTES = 512 * 1024
FIELD_LIMITS = {"id": 255, "type": 100, "account": 64}  # the stripe_events columns' sizes
TOLERANCE_SECONDS = 300
CREATED_RANGE = range(0, 253402300800)  # the Unix times a datetime holds: 1970 to the end of 9999
# What a direct-mode endpoint is set up to send (the Connect page lists them in this order).
DIRECT_TYPES = (
    "checkout.session.expired",
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
)
HANDLED_TYPES = frozenset({*DIRECT_TYPES, "account.application.deauthorized"})


class WebhookRejected(ValueError):
    """The request is not a valid Stripe event for this endpoint; the message is one line."""


def verify(body: bytes, header: str | None, secrets: list[str]) -> dict:
    """The event if `header` signs `body` with one of `secrets` (several while a secret rolls)
    within the tolerance; WebhookRejected naming what is wrong otherwise."""
    if not header:
        raise WebhookRejected("missing Stripe-Signature header")
    if not secrets:
        raise WebhookRejected("no signing secret is configured for this endpoint")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WebhookRejected("body is not UTF-8") from exc
    problem = None
    for secret in secrets:
        try:
            WebhookSignature.verify_header(text, header, secret, TOLERANCE_SECONDS)
        except SignatureVerificationError as exc:
            problem = _signature_problem(str(exc))
            continue
        _refuse_future_timestamp(header)
        return parse_event(text)
    raise WebhookRejected(problem)


def _signature_problem(message: str) -> str:
    if "tolerance" in message:
        return f"signature timestamp is more than {TOLERANCE_SECONDS} s old"
    if "extract timestamp" in message:
        return "malformed Stripe-Signature header"
    return "signature does not match any configured secret"


def _refuse_future_timestamp(header: str) -> None:
    """The tolerance bounds clock skew both ways; the SDK checks only the past. `t=` is read
    as verify_header reads it (the first one), so it parses: that call has just accepted it."""
    signed_at = int(
        next(item.split("=")[1] for item in header.split(",") if item.split("=")[0] == "t")
    )
    if signed_at > time.time() + TOLERANCE_SECONDS:
        raise WebhookRejected(
            f"signature timestamp is more than {TOLERANCE_SECONDS} s in the future"
        )


def claimed_event_id(body: bytes) -> str | None:
    """The event id a body that failed its signature check says it carries (evt_...), or None;
    unchecked: only Stripe can say whether it sent it."""
    try:
        event_id = json.loads(body).get("id")
    except (ValueError, RecursionError, AttributeError):  # not JSON, or not an object
        return None
    if isinstance(event_id, str) and re.fullmatch(r"evt_\w{1,250}", event_id, re.ASCII):
        return event_id
    return None


def parse_event(text: str) -> dict:
    """The event object, checked for the fields the portal relies on: what it returns can be
    stored (WebhookRejected, naming the first problem, otherwise)."""
    try:
        event = json.loads(text)
    except ValueError as exc:
        raise WebhookRejected("body is not valid JSON") from exc
    except RecursionError as exc:  # the parser recurses per level: catching it costs nothing
        raise WebhookRejected("body is nested too deeply") from exc
    if not isinstance(event, dict) or event.get("object") != "event":
        raise WebhookRejected("body is not a Stripe event object")
    checks = (("id", str), ("type", str), ("created", int), ("livemode", bool), ("data", dict))
    for name, kind in checks:
        if not _is(event.get(name), kind):
            raise WebhookRejected(
                f"event field {name!r} is missing or not of type {kind.__name__}"
            )
    if not isinstance(event["data"].get("object"), dict):
        raise WebhookRejected("event field 'data.object' is missing")
    if event.get("account") is not None and not isinstance(event["account"], str):
        raise WebhookRejected("event field 'account' is not a string")
    _check_columns(event)
    if event["type"] in HANDLED_TYPES and event["type"].startswith("checkout.session."):
        try:  # signed, yet not what Stripe sends: refused now, not retried for days in a worker
            session_fields.check(event["data"]["object"])
        except ValueError as exc:
            raise WebhookRejected(str(exc)) from None
    return event


def _check_columns(event: dict) -> None:
    """WebhookRejected unless the fields stored in columns of their own fit them, as those of
    every real Stripe event do. Only these short fields are scanned: the payload is the body
    as signed, and strict UTF-8 and JSON already keep NULs and lone surrogates out of it."""
    for name, limit in FIELD_LIMITS.items():
        value = event.get(name) or ""
        if len(value) > limit:
            raise WebhookRejected(f"event field {name!r} is longer than {limit} characters")
        if not db.storable_text(value):
            raise WebhookRejected(f"event field {name!r} contains a NUL or an unpaired surrogate")
    if not event["id"]:
        raise WebhookRejected("event field 'id' is empty")
    if event["created"] not in CREATED_RANGE:
        raise WebhookRejected("event field 'created' is not a Unix time from 1970 to 9999")


def _is(value, kind: type) -> bool:
    """isinstance, except that a bool is not an int (JSON `true` is no timestamp)."""
    return isinstance(value, kind) and (kind is bool or not isinstance(value, bool))


def store(event: dict, body: str, *, source: str, merchant_id: int | None = None) -> bool:
    """Insert the event unless its id is known; True when it is new. Durable when it returns;
    concurrent requests share one statement and one commit (group_commit.py)."""
    account = event.get("account") if source == EventSource.CONNECT else None
    status = EventStatus.PENDING if event["type"] in HANDLED_TYPES else EventStatus.IGNORED
    values = dict(
        event_id=event["id"],
        source=source,
        account_id=account,
        merchant_id=merchant_id,
        type=event["type"],
        livemode=event["livemode"],
        payload=body,
        status=status,
        created_at=datetime.fromtimestamp(event["created"], timezone.utc),
        received_at=datetime.now(timezone.utc),
        attempts=0,
    )
    return group_commit.committer(db.bound_engine(), StripeEvent.__table__, "event_id").insert(
        values
    )


def direct_secret(merchant_id: int, keys: str) -> list[str]:
    """The signing secret of a direct-mode merchant's endpoint ([] when there is none, as for
    an id beyond the id column, which the query would fail on)."""
    if not 0 < merchant_id <= db.MAX_ID:
        return []
    account = (
        db.session.query(StripeAccount)
        .filter_by(merchant_id=merchant_id, method=ConnectMethod.DIRECT)
        .first()
    )
    if account is None or not account.webhook_secret_sealed or not account.is_connected:
        return []
    return [sealing.open_sealed(account.webhook_secret_sealed, keys)]
