"""`/v1/account(s)`, `/v1/webhook_endpoints` and `/v1/events`."""

from __future__ import annotations

import copy
import fnmatch

from flask import Blueprint

from .accounts import apply_account_params
from .api_util import before_api, caller, created_filter, list_records, respond
from .auth import request_params, require_platform, store
from .errors import StripeError, bad_param, no_such
from .events import render_event
from .listing import paginate

bp = Blueprint("api_accounts", __name__, url_prefix="/v1")
bp.before_request(before_api)


@bp.get("/account")
def current_account():
    return respond(copy.deepcopy(store().find(caller().account).obj))


@bp.post("/accounts")
def create_account():
    require_platform(caller())
    params = request_params()
    with store().lock:
        record = store().create_account(None, None, connect=True)
        apply_account_params(record.obj, params)
        return respond(copy.deepcopy(record.obj))


@bp.get("/accounts")
def list_accounts():
    require_platform(caller())
    request_params().check_known({"limit", "starting_after", "ending_before", "created"})
    with store().lock:
        records = [r.obj for r in store().accounts() if r.obj["id"] in store().connected]
        page = paginate(
            records, request_params(), "/v1/accounts", copy.deepcopy, lambda obj: obj["id"]
        )
    return respond(page)


def _visible_account(account_id: str):
    who = caller()
    record = store().find(account_id)
    allowed = account_id == who.account or (who.platform and account_id in store().connected)
    if record is None or record.kind != "account" or not allowed:
        raise no_such("account", account_id)
    return record


@bp.get("/accounts/<account_id>")
def retrieve_account(account_id: str):
    return respond(copy.deepcopy(_visible_account(account_id).obj))


@bp.post("/accounts/<account_id>")
def update_account(account_id: str):
    with store().lock:
        record = _visible_account(account_id)
        apply_account_params(record.obj, request_params())
        return respond(copy.deepcopy(record.obj))


def _enabled_events(params) -> list[str]:
    events = params.strings("enabled_events")
    if not events:
        raise StripeError(
            400,
            "Missing required param: enabled_events.",
            "enabled_events",
            code="parameter_missing",
        )
    for name in events:
        if name != "*" and ("." not in name or "*" in name):
            raise bad_param(
                f"Invalid enabled_events: '{name}' is not an event type.", "enabled_events"
            )
    return events


@bp.post("/webhook_endpoints")
def create_webhook_endpoint():
    who, params = caller(), request_params()
    params.check_known(
        {"url", "enabled_events", "connect", "description", "metadata", "api_version"}
    )
    url = params.str("url", required=True)
    if not url.startswith(("http://", "https://")):
        raise bad_param("Invalid URL: must start with http:// or https://.", "url")
    connect = params.bool("connect", False)
    if connect and not who.platform:
        raise bad_param(
            "Only a Connect platform (without Stripe-Account) can create Connect endpoints.",
            "connect",
        )
    record = store().add_webhook_endpoint(
        who.account,
        url,
        livemode=who.livemode,
        connect=connect,
        enabled_events=_enabled_events(params),
        description=params.str("description"),
        metadata=params.metadata(),
        api_version=params.str("api_version"),
    )
    return respond({**copy.deepcopy(record.obj), "secret": record.extra["secret"]})


def _endpoint(endpoint_id: str):
    who = caller()
    return store().get(endpoint_id, "webhook_endpoint", who.account, who.livemode)


@bp.get("/webhook_endpoints")
def list_webhook_endpoints():
    request_params().check_known({"limit", "starting_after", "ending_before"})
    return respond(list_records("webhook_endpoint", "/v1/webhook_endpoints"))


@bp.get("/webhook_endpoints/<endpoint_id>")
def retrieve_webhook_endpoint(endpoint_id: str):
    return respond(copy.deepcopy(_endpoint(endpoint_id).obj))


@bp.delete("/webhook_endpoints/<endpoint_id>")
def delete_webhook_endpoint(endpoint_id: str):
    with store().lock:
        record = _endpoint(endpoint_id)
        store().remove(record.obj["id"])
    return respond({"id": endpoint_id, "object": "webhook_endpoint", "deleted": True})


def _type_filter(params):
    single, many = params.str("type"), params.strings("types")
    patterns = ([single] if single else []) + many
    return lambda obj: not patterns or any(fnmatch.fnmatchcase(obj["type"], p) for p in patterns)


@bp.get("/events")
def list_events():
    params = request_params()
    params.check_known(
        {
            "limit",
            "starting_after",
            "ending_before",
            "created",
            "type",
            "types",
            "delivery_success",
        }
    )
    by_type, by_created = _type_filter(params), created_filter(params)
    with_account = caller().via_connect
    render = lambda obj: render_event(store().find(obj["id"]), with_account)  # noqa: E731
    return respond(
        list_records("event", "/v1/events", lambda obj: by_type(obj) and by_created(obj), render)
    )


@bp.get("/events/<event_id>")
def retrieve_event(event_id: str):
    who = caller()
    record = store().get(event_id, "event", who.account, who.livemode)
    return respond(render_event(record, who.via_connect))
