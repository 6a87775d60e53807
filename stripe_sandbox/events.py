"""Events: record them per account and route them to the webhook endpoints that want them."""

from __future__ import annotations

import copy
import json

from flask import g, has_request_context, request

from . import shapes
from .state import Record, Store, new_id
from .webhooks import Delivery


def _request_info() -> dict:
    # Only API calls carry a request id; shopper actions and the clock do not, as at Stripe.
    if has_request_context() and g.get("request_id"):
        return {"id": g.request_id, "idempotency_key": request.headers.get("Idempotency-Key")}
    return {"id": None, "idempotency_key": None}


def render_event(record: Record, with_account: bool) -> dict:
    """The event body; Connect views carry the top-level `account`."""
    body = copy.deepcopy(record.obj)
    connect_account = record.extra.get("connect_account")
    if with_account and connect_account:
        body = {
            "id": body.pop("id"),
            "object": body.pop("object"),
            "account": connect_account,
            **body,
        }
    return body


def _wants(endpoint: Record, event_type: str) -> bool:
    enabled = endpoint.obj["enabled_events"]
    return endpoint.obj["status"] == "enabled" and ("*" in enabled or event_type in enabled)


def _targets(
    store: Store, account: str, livemode: bool, event_type: str, connect_only: bool
) -> list[tuple[Record, bool]]:
    """(endpoint, is_connect) pairs that should receive this event."""
    targets = []
    for endpoint in store.all("webhook_endpoint"):
        if not _wants(endpoint, event_type):
            continue
        if endpoint.extra["connect"]:
            # Only accounts connected to the platform reach its Connect endpoints: a self-hoster's
            # own account (direct mode) reaches its own endpoints alone, as at Stripe. Live
            # Connect endpoints also get connected accounts' test events (Stripe does so).
            mode_ok = endpoint.obj["livemode"] or not livemode
            connected = account in store.connected and endpoint.account == store.platform_id
            if connected and mode_ok:
                targets.append((endpoint, True))
        elif (
            not connect_only
            and endpoint.account == account
            and endpoint.obj["livemode"] == livemode
        ):
            targets.append((endpoint, False))
    return targets


def emit(
    store: Store,
    account: str,
    livemode: bool,
    event_type: str,
    obj: dict,
    connect_only: bool = False,
) -> Record:
    """Record an event for `account` and queue its deliveries (sent later, off this request)."""
    with store.lock:
        body = shapes.event()
        body.update(
            id=new_id("evt_1"),
            created=store.now(),
            livemode=livemode,
            type=event_type,
            data={"object": copy.deepcopy(obj)},
            request=_request_info(),
        )
        targets = _targets(store, account, livemode, event_type, connect_only)
        body["pending_webhooks"] = len(targets)
        connect_account = account if account != store.platform_id else None
        record = store.add(body, account, connect_account=connect_account)
        for endpoint, is_connect in targets:
            store.dispatcher.enqueue(
                Delivery(
                    event_id=body["id"],
                    event_type=event_type,
                    endpoint_id=endpoint.obj["id"],
                    url=endpoint.obj["url"],
                    secret=endpoint.extra["secret"],
                    body=json.dumps(render_event(record, is_connect), indent=2),
                )
            )
        return record


def mark_delivered(store: Store, event_id: str) -> None:
    """One endpoint acknowledged the event: one fewer pending webhook."""
    with store.lock:
        record = store.find(event_id)
        if record is not None and record.obj["pending_webhooks"] > 0:
            record.obj["pending_webhooks"] -= 1
