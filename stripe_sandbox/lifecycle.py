"""What happens to a session after creation: shopper details, payment, expiry and recovery."""

from __future__ import annotations

import copy

from . import checkout, shapes
from .errors import StripeError, bad_param
from .events import emit
from .state import Record, Store, new_id, random_token

RECOVERY_LIFETIME = 30 * 24 * 60 * 60
RECOVERED_LIFETIME = 24 * 60 * 60


def require_open(session: Record) -> None:
    """A 400 naming the status unless the session can still be paid or changed."""
    if session.obj["status"] != "open":
        raise StripeError(
            400,
            f"This Checkout Session is {session.obj['status']}; only open "
            "sessions can be changed, paid or expired.",
            code="checkout_session_not_open",
        )


def save_shopper(
    store: Store, session: Record, email: str | None, consent: bool | None, name: str | None = None
) -> None:
    """Record what the shopper typed; consent counts only when the session collects it."""
    with store.lock:
        require_open(session)
        body = session.obj
        if email is not None and ("@" not in email or len(email) > 512):
            raise bad_param("Invalid email address.", "email")
        details = body["customer_details"] or shapes.customer_details()
        details["email"] = email if email is not None else details["email"]
        details["name"] = name if name is not None else details["name"]
        body["customer_details"] = details
        store.note_email(session)
        if consent is not None and collects_promotions(body):
            body["consent"]["promotions"] = "opt_in" if consent else "opt_out"


def collects_promotions(body: dict) -> bool:
    return (body.get("consent_collection") or {}).get("promotions") == "auto"


def expire(store: Store, config: dict, session: Record) -> None:
    """Close an open session, hand out its recovery URL when enabled, emit the event."""
    with store.lock:
        require_open(session)
        body, now = session.obj, store.now()
        body.update(status="expired", url=None)
        details = body["customer_details"]
        if details is not None and (body.get("consent") or {}).get("promotions") != "opt_in":
            # Stripe only keeps the address of shoppers who agreed to promotional email.
            details["email"] = None
        recovery = (body.get("after_expiration") or {}).get("recovery")
        if recovery and recovery["enabled"]:
            token = random_token(32)
            store.recovery_tokens[token] = {"session": body["id"], "copy": None}
            recovery.update(
                url=f"{config['PUBLIC_URL'].rstrip('/')}/c/recover/{token}",
                expires_at=min(now, body["expires_at"]) + RECOVERY_LIFETIME,
            )
        emit(store, session.account, body["livemode"], "checkout.session.expired", body)


def advance_clock(store: Store, config: dict, seconds: int) -> tuple[int, int]:
    """Move the clock forward and expire what became due, in one step: the background ticker
    cannot expire those sessions in between, so the count is exact. (new time, expired count)"""
    with store.lock:
        return store.advance(seconds), expire_due(store, config)


def expire_due(store: Store, config: dict) -> int:
    """Expire every open session whose `expires_at` has passed; returns how many."""
    with store.lock:
        now = store.now()
        due = store.due_sessions(now)
        for session in due:
            expire(store, config, session)
        return len(due)


def _payment_intent(store: Store, session: Record, paid: bool) -> dict:
    body, intent = session.obj, shapes.payment_intent()
    intent.update(
        id=new_id("pi_3"),
        amount=body["amount_total"],
        currency=body["currency"],
        created=store.now(),
        livemode=body["livemode"],
        customer=body["customer"],
        amount_received=body["amount_total"] if paid else 0,
        status="succeeded" if paid else "processing",
        payment_method=new_id("pm_1"),
        latest_charge=new_id("ch_3"),
        receipt_email=(body["customer_details"] or {}).get("email"),
    )
    intent["client_secret"] = f"{intent['id']}_secret_{random_token(25)}"
    store.add(intent, session.account)
    return intent


def complete(store: Store, session: Record, paid: bool = True) -> None:
    """Pay an open session (or leave it `unpaid` for a delayed method) and emit `completed`."""
    with store.lock:
        require_open(session)
        body = session.obj
        if not (body["customer_details"] or {}).get("email"):
            email = body["customer_email"]
            if email is None:
                raise bad_param("The shopper must enter an email address before paying.", "email")
            save_shopper(store, session, email, None)
        if collects_promotions(body) and body["consent"]["promotions"] is None:
            body["consent"]["promotions"] = "opt_out"
        body.update(
            status="complete",
            url=None,
            payment_status="paid" if paid else "unpaid",
            payment_intent=_payment_intent(store, session, paid)["id"],
        )
        emit(store, session.account, body["livemode"], "checkout.session.completed", body)


def settle_async(store: Store, session: Record, succeeded: bool) -> None:
    """Finish a delayed payment: updates the session and intent, emits the matching event."""
    with store.lock:
        body = session.obj
        if body["status"] != "complete" or body["payment_status"] != "unpaid":
            raise StripeError(
                400,
                "Only completed sessions awaiting a delayed payment can be settled.",
                code="checkout_session_not_pending",
            )
        intent = store.find(body["payment_intent"]).obj
        body["payment_status"] = "paid" if succeeded else "unpaid"
        intent.update(
            status="succeeded" if succeeded else "requires_payment_method",
            amount_received=intent["amount"] if succeeded else 0,
        )
        if not succeeded:
            intent["last_payment_error"] = {"type": "card_error", "code": "payment_failed"}
        kind = "succeeded" if succeeded else "failed"
        emit(
            store,
            session.account,
            body["livemode"],
            f"checkout.session.async_payment_{kind}",
            body,
        )


def recover(store: Store, config: dict, token: str) -> Record:
    """The session a recovery URL leads to: a fresh copy of the cart, reused while open."""
    with store.lock:
        entry = store.recovery_tokens.get(token)
        if entry is None:
            raise StripeError(404, "This recovery link is not valid.")
        original = store.find(entry["session"])
        recovery = original.obj["after_expiration"]["recovery"]
        if store.now() >= recovery["expires_at"]:
            raise StripeError(410, "This recovery link has expired.")
        current = store.find(entry["copy"]) if entry["copy"] else None
        if current is not None and current.obj["status"] != "expired":
            return current
        current = _copy_session(store, config, original, recovery)
        entry["copy"] = current.obj["id"]
        return current


def _copy_session(store: Store, config: dict, original: Record, recovery: dict) -> Record:
    body = original.obj
    keep = (
        "mode",
        "success_url",
        "cancel_url",
        "customer",
        "customer_account",
        "customer_email",
        "metadata",
        "client_reference_id",
        "locale",
        "consent_collection",
    )
    fields = {key: copy.deepcopy(body[key]) for key in keep}
    fields.update(
        after_expiration=None,
        recovered_from=body["id"],
        allow_promotion_codes=recovery["allow_promotion_codes"],
        expires_at=store.now() + RECOVERED_LIFETIME,
    )
    items = checkout.copy_items(original.extra["line_items"])
    return checkout.open_session(store, config, original.account, body["livemode"], fields, items)
