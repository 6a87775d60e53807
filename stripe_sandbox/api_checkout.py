"""`/v1/checkout/sessions` and `/v1/payment_intents`: create, retrieve, list, line items, expire."""

from __future__ import annotations

import copy

from flask import Blueprint, current_app

from . import checkout, lifecycle
from .api_util import before_api, caller, created_filter, expanded, list_records, respond
from .auth import request_params, store
from .listing import paginate
from .params import Params

bp = Blueprint("api_checkout", __name__, url_prefix="/v1")
bp.before_request(before_api)

SESSION_EXPANDS = {"line_items", "payment_intent", "line_items.data.price.product"}
LIST_FILTERS = {
    "customer",
    "customer_account",
    "customer_details",
    "created",
    "status",
    "payment_link",
    "payment_intent",
    "subscription",
    "limit",
    "starting_after",
    "ending_before",
}


def _session(session_id: str):
    who = caller()
    return store().get(session_id, "checkout.session", who.account, who.livemode)


def _line_items_list(session_id: str) -> dict:
    record = store().find(session_id)
    items = copy.deepcopy(record.extra["line_items"])
    return paginate(
        items,
        Params({}),
        f"/v1/checkout/sessions/{session_id}/line_items",
        lambda item: item,
        lambda item: item["id"],
    )


def _session_view(record) -> dict:
    return expanded(record.obj, SESSION_EXPANDS, _line_items_list)


@bp.post("/checkout/sessions")
def create_session():
    record = checkout.create_session(store(), current_app.config, caller(), request_params())
    return respond(_session_view(record))


@bp.get("/checkout/sessions/<session_id>")
def retrieve_session(session_id: str):
    return respond(_session_view(_session(session_id)))


@bp.post("/checkout/sessions/<session_id>/expire")
def expire_session(session_id: str):
    record = _session(session_id)
    lifecycle.expire(store(), current_app.config, record)
    return respond(_session_view(record))


@bp.get("/checkout/sessions/<session_id>/line_items")
def session_line_items(session_id: str):
    record = _session(session_id)
    params = request_params()
    params.check_known({"limit", "starting_after", "ending_before"})
    # Stripe lists line items in cart order, not newest first.
    page = paginate(
        record.extra["line_items"],
        params,
        f"/v1/checkout/sessions/{session_id}/line_items",
        copy.deepcopy,
        lambda item: item["id"],
    )
    return respond(expanded(page, {"data.price.product"}))


def _email_filter(params: Params):
    email = params.sub("customer_details").str("email")
    if email is None:
        return lambda obj: True
    wanted = email.lower()
    return lambda obj: ((obj["customer_details"] or {}).get("email") or "").lower() == wanted


def _session_filters(params: Params):
    params.check_known(LIST_FILTERS)
    status = params.str("status", choices=("open", "complete", "expired"))
    exact = {
        name: params.str(name)
        for name in (
            "customer",
            "customer_account",
            "payment_link",
            "payment_intent",
            "subscription",
            "status",
        )
    }
    exact["status"] = status
    by_email, by_created = _email_filter(params), created_filter(params)
    return lambda obj: (
        by_email(obj)
        and by_created(obj)
        and all(obj[k] == v for k, v in exact.items() if v is not None)
    )


@bp.get("/checkout/sessions")
def list_sessions():
    params = request_params()
    keep = _session_filters(params)
    email = params.sub("customer_details").str("email")
    by_email = (
        (lambda account, livemode: store().sessions_by_email(account, email, livemode))
        if email
        else None
    )
    page = list_records("checkout.session", "/v1/checkout/sessions", keep, candidates=by_email)
    return respond(expanded(page, {"data.line_items", "data.payment_intent"}, _line_items_list))


@bp.get("/payment_intents/<intent_id>")
def retrieve_payment_intent(intent_id: str):
    who = caller()
    return respond(
        copy.deepcopy(store().get(intent_id, "payment_intent", who.account, who.livemode).obj)
    )
