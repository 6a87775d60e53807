"""Sandbox-only controls (no API key): shopper actions, the clock, keys and delivery logs."""

from __future__ import annotations

import copy

from flask import Blueprint, current_app, render_template, request

from . import lifecycle
from .api_util import respond
from .auth import request_params, store
from .dashboard import coupons_of, endpoints_of
from .errors import no_such

bp = Blueprint("sandbox_pages", __name__)


def _sandbox():
    return current_app.extensions["sandbox"]


def _session(session_id: str):
    _sandbox().tick()
    record = store().find(session_id)
    if record is None or record.kind != "checkout.session":
        raise no_such("checkout.session", session_id)
    return record


def _session_json(record):
    return respond(copy.deepcopy(record.obj))


@bp.post("/_sandbox/checkout/sessions/<session_id>/shopper")
def shopper(session_id: str):
    params, record = request_params(), _session(session_id)
    params.check_known({"email", "promotions_consent", "name"})
    lifecycle.save_shopper(
        store(), record, params.str("email"), params.bool("promotions_consent"), params.str("name")
    )
    return _session_json(record)


@bp.post("/_sandbox/checkout/sessions/<session_id>/pay")
def pay(session_id: str):
    params, record = request_params(), _session(session_id)
    params.check_known({"payment_status", "email", "promotions_consent", "name"})
    status = params.str("payment_status", default="paid", choices=("paid", "unpaid"))
    if params.has("email") or params.has("promotions_consent") or params.has("name"):
        lifecycle.save_shopper(
            store(),
            record,
            params.str("email"),
            params.bool("promotions_consent"),
            params.str("name"),
        )
    lifecycle.complete(store(), record, paid=status == "paid")
    return _session_json(record)


@bp.post("/_sandbox/checkout/sessions/<session_id>/async_payment")
def async_payment(session_id: str):
    params, record = request_params(), _session(session_id)
    result = params.str("result", required=True, choices=("succeeded", "failed"))
    lifecycle.settle_async(store(), record, result == "succeeded")
    return _session_json(record)


@bp.post("/_sandbox/checkout/sessions/<session_id>/expire")
def expire_now(session_id: str):
    record = _session(session_id)
    lifecycle.expire(store(), current_app.config, record)
    return _session_json(record)


@bp.post("/_sandbox/clock/advance")
def advance_clock():
    seconds = request_params().int("seconds", required=True, low=0, high=10 * 365 * 86400)
    now, expired = lifecycle.advance_clock(store(), current_app.config, seconds)
    return respond(
        {
            "object": "sandbox.clock",
            "now": now,
            "offset": store().offset,
            "expired_sessions": expired,
        }
    )


@bp.get("/_sandbox/clock")
def clock():
    return respond({"object": "sandbox.clock", "now": store().now(), "offset": store().offset})


@bp.get("/_sandbox/deliveries")
def deliveries():
    return respond(
        {
            "object": "list",
            "data": list(reversed(_sandbox().deliveries())),
            "has_more": False,
            "url": "/_sandbox/deliveries",
        }
    )


def _wants_json() -> bool:
    return (
        request.args.get("format") == "json" or request.accept_mimetypes.best == "application/json"
    )


def _account_view(record) -> dict:
    account_id = record.obj["id"]
    keys = dict(record.extra.get("keys", {}))
    keys.update(
        pk_live=store().publishable_key(account_id, True),
        pk_test=store().publishable_key(account_id, False),
    )
    return {
        "id": account_id,
        "name": record.obj["business_profile"]["name"],
        "email": record.obj["email"],
        "connected": account_id in store().connected,
        "keys": keys,
        "webhook_endpoints": endpoints_of(account_id),
        "coupons": coupons_of(account_id),
    }


@bp.get("/_sandbox/accounts/<account_id>")
def account_page(account_id: str):
    record = store().find(account_id)
    if record is None or record.kind != "account" or account_id == store().platform_id:
        raise no_such("account", account_id)
    view = _account_view(record)
    if _wants_json():
        return respond(view)
    return render_template("account.html", account=view, error=request.args.get("error"))


@bp.get("/_sandbox/accounts")
def accounts_page():
    views = [_account_view(r) for r in store().accounts()]
    if _wants_json():
        return respond(
            {"object": "list", "data": views, "has_more": False, "url": "/_sandbox/accounts"}
        )
    return render_template("index.html", accounts=views, config=current_app.config)


@bp.get("/")
def index():
    return accounts_page()
