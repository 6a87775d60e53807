"""Helpers every API blueprint shares: authentication hook, JSON responses, `expand[]`, filters."""

from __future__ import annotations

import copy
import json
from typing import Callable

from flask import Response, current_app, g

from .auth import Caller, authenticate, request_params, store
from .errors import StripeError, bad_param
from .listing import paginate
from .params import Params


def before_api() -> None:
    """Authenticate and catch up on expiries before any API view runs."""
    g.caller = authenticate()
    current_app.extensions["sandbox"].tick()


def caller() -> Caller:
    """The authenticated caller of this API request."""
    return g.caller


def respond(data: dict, status: int = 200) -> Response:
    """JSON of `data`, serialised under the store lock so no other thread changes it midway."""
    with store().lock:
        text = json.dumps(data, indent=2)
    return Response(text + "\n", status=status, mimetype="application/json")


def _resolve(node: dict, key: str, line_items: Callable[[str], dict]) -> object:
    value = node.get(key)
    if key == "line_items" and node.get("object") == "checkout.session":
        return line_items(node["id"])
    if isinstance(value, str):
        record = store().find(value)
        if record is not None and record.account == caller().account:
            return copy.deepcopy(record.obj)
    return value


def _walk(node: object, parts: list[str], line_items: Callable[[str], dict]) -> object:
    if not parts or node is None:
        return node
    if isinstance(node, list):
        return [_walk(item, parts, line_items) for item in node]
    if not isinstance(node, dict):
        return node
    node[parts[0]] = _walk(_resolve(node, parts[0], line_items), parts[1:], line_items)
    return node


def expanded(
    body: dict, allowed: set[str], line_items: Callable[[str], dict] | None = None
) -> dict:
    """A copy of `body` with the requested `expand[]` paths (each must be in `allowed`)."""
    paths = request_params().strings("expand")
    body = copy.deepcopy(body)
    for path in paths:
        if path not in allowed:
            raise bad_param(f"This property cannot be expanded ({path}).", "expand")
        _walk(body, path.split("."), line_items or (lambda session_id: None))
    return body


def list_records(
    kind: str,
    url: str,
    keep: Callable[[dict], bool] = lambda obj: True,
    render: Callable[[dict], dict] | None = None,
    candidates: Callable[[str, bool], list] | None = None,
) -> dict:
    """The caller's objects of `kind` as a Stripe list, filtered by `keep`, paginated; when
    `candidates(account, livemode)` is given, only its records (newest first) are looked at."""
    who = caller()
    floor = _created_floor(request_params())
    with store().lock:
        items = []
        records = (
            candidates(who.account, who.livemode)
            if candidates
            else store().all(kind, who.account, who.livemode)
        )
        for record in records:  # newest first
            if floor is not None and record.obj["created"] < floor:
                break  # creation times only grow with insertion: nothing older can match
            if keep(record.obj):
                items.append(record.obj)
        return paginate(
            items, request_params(), url, render or copy.deepcopy, lambda obj: obj["id"]
        )


def _created_floor(params: Params) -> int | None:
    """The least `created` a `created` filter admits, if it sets one (validated by the filter)."""
    raw = params.data.get("created")
    if raw in (None, ""):
        return None
    try:
        if isinstance(raw, str):
            return params.int("created")
        bounds = params.sub("created")
        if bounds.has("gte"):
            return bounds.int("gte")
        return bounds.int("gt") + 1 if bounds.has("gt") else None
    except StripeError:
        return None


def created_filter(params: Params, field: str = "created") -> Callable[[dict], bool]:
    """A predicate for Stripe's `created=<ts>` or `created[gt|gte|lt|lte]=<ts>` filter."""
    raw = params.data.get(field)
    if raw in (None, ""):
        return lambda obj: True
    if isinstance(raw, str):
        exact = params.int(field)
        return lambda obj: obj[field] == exact
    bounds = params.sub(field)
    bounds.check_known({"gt", "gte", "lt", "lte"})
    tests = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    limits = {op: bounds.int(op) for op in tests if bounds.has(op)}
    return lambda obj: all(tests[op](obj[field], value) for op, value in limits.items())


def not_allowed(message: str) -> StripeError:
    """A 400 for an operation the object's state forbids."""
    return StripeError(400, message)
