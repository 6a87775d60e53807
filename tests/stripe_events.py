"""Stripe events for tests: built from Stripe's own example events, signed like Stripe signs."""

from __future__ import annotations

import copy
import itertools
import json
import time
from pathlib import Path

from stripe import WebhookSignature

DATA = Path(__file__).parent / "data" / "stripe"
CONNECT_SECRET = "whsec_test_connect_secret"
_seq = itertools.count(1)


def _example(name: str) -> dict:
    return json.loads((DATA / f"event-{name}.json").read_text())


def session_event(
    event_type: str, session_id: str, *, account: str, created: int | None = None, **fields
) -> dict:
    """A Connect event of `event_type` for a session, from the realistic example sessions."""
    base = (
        "checkout.session.completed-recovered"
        if event_type != "checkout.session.expired"
        else "checkout.session.expired"
    )
    event = _example(base)
    event.update(
        id=f"evt_test_{next(_seq):06d}_{int(time.time() * 1000) % 10**9}",
        type=event_type,
        account=account,
        created=created or int(time.time()),
    )
    obj = event["data"]["object"]
    obj["id"] = session_id
    for name, value in fields.items():
        obj[name] = value
    return event


def expired(
    session_id: str,
    account: str,
    *,
    email: str | None = "shopper@example.com",
    consent: str | None = "opt_in",
    created: int | None = None,
    **fields,
) -> dict:
    details = {
        **_example("checkout.session.expired")["data"]["object"]["customer_details"],
        "email": email,
    }
    return session_event(
        "checkout.session.expired",
        session_id,
        account=account,
        created=created,
        customer_details=details,
        consent={"promotions": consent, "terms_of_service": None},
        **fields,
    )


def completed(
    session_id: str,
    account: str,
    *,
    recovered_from: str | None = None,
    payment_status: str = "paid",
    amount: int = 4800,
    created: int | None = None,
    **fields,
) -> dict:
    return session_event(
        "checkout.session.completed",
        session_id,
        account=account,
        created=created,
        recovered_from=recovered_from,
        payment_status=payment_status,
        amount_total=amount,
        **fields,
    )


def async_result(
    succeeded: bool,
    session_id: str,
    account: str,
    *,
    recovered_from: str | None = None,
    created: int | None = None,
) -> dict:
    kind = "succeeded" if succeeded else "failed"
    return session_event(
        f"checkout.session.async_payment_{kind}",
        session_id,
        account=account,
        created=created,
        recovered_from=recovered_from,
        payment_status="paid" if succeeded else "unpaid",
    )


def deauthorized(account: str, created: int | None = None) -> dict:
    event = copy.deepcopy(_example("account.application.deauthorized"))
    event.update(
        id=f"evt_test_deauth_{next(_seq):06d}",
        account=account,
        created=created or int(time.time()),
    )
    return event


def sign(body: str, secret: str = CONNECT_SECRET, timestamp: int | None = None) -> str:
    return WebhookSignature.generate_signature_header(body, secret, timestamp)


def post(
    client,
    event: dict | str,
    *,
    secret: str = CONNECT_SECRET,
    path: str = "/webhooks/stripe/connect",
    headers: dict | None = None,
    **kwargs,
):
    """POST the event as Stripe would: JSON body, signed with `secret`."""
    body = event if isinstance(event, str) else json.dumps(event)
    all_headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": sign(body, secret),
    }
    all_headers.update(headers or {})
    return client.post(path, data=body, headers=all_headers, **kwargs)
