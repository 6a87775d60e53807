"""`/v1/products`, `/v1/prices`, `/v1/coupons`, `/v1/promotion_codes`: create, retrieve, list."""

from __future__ import annotations

from flask import Blueprint

from . import catalog
from .api_util import before_api, caller, created_filter, expanded, list_records, respond
from .auth import request_params, store

bp = Blueprint("api_catalog", __name__, url_prefix="/v1")
bp.before_request(before_api)

PAGING = {"limit", "starting_after", "ending_before", "created"}
# kind -> (url segment, creator, extra list filters compared by equality, allowed expansions)
RESOURCES = {
    "product": ("products", catalog.create_product, {"active"}, set()),
    "price": (
        "prices",
        catalog.create_price,
        {"active", "product", "currency", "type"},
        {"product"},
    ),
    "coupon": ("coupons", catalog.create_coupon, set(), set()),
    "promotion_code": (
        "promotion_codes",
        catalog.create_promotion_code,
        {"active", "code", "customer", "coupon"},
        {"promotion.coupon"},
    ),
}


def _equals(obj: dict, name: str, wanted: str) -> bool:
    value = obj.get(name)
    if isinstance(value, bool):
        return str(value).lower() == wanted
    return value == wanted


def _create(kind: str):
    def view():
        record = RESOURCES[kind][1](store(), caller(), request_params())
        return respond(expanded(record.obj, RESOURCES[kind][3]))

    return view


def _retrieve(kind: str):
    def view(object_id: str):
        who = caller()
        record = store().get(object_id, kind, who.account, who.livemode)
        return respond(expanded(record.obj, RESOURCES[kind][3]))

    return view


def _list(kind: str):
    def view():
        segment, _, filters, expands = RESOURCES[kind]
        params = request_params()
        params.check_known(PAGING | filters)
        wanted = {name: params.str(name) for name in filters - {"coupon"} if params.has(name)}
        by_coupon = _coupon_filter(params) if kind == "promotion_code" else (lambda obj: True)
        by_created = created_filter(params)
        keep = lambda obj: (
            by_created(obj)
            and by_coupon(obj)
            and all(_equals(obj, n, v) for n, v in wanted.items())
        )
        page = list_records(kind, f"/v1/{segment}", keep)
        return respond(expanded(page, {f"data.{path}" for path in expands}))

    return view


def _coupon_filter(params):
    coupon = params.str("coupon")
    return lambda obj: coupon is None or obj["promotion"]["coupon"] == coupon


def _delete(kind: str):
    def view(object_id: str):
        who = caller()
        with store().lock:
            record = store().get(object_id, kind, who.account, who.livemode)
            store().remove(record.obj["id"])
        return respond({"id": object_id, "object": kind, "deleted": True})

    return view


def _update(kind: str):
    # Stripe updates many fields here; the sandbox supports `active` and `metadata`.
    def view(object_id: str):
        who = caller()
        params = request_params()
        params.check_known({"active", "metadata", "name", "description"})
        with store().lock:
            record = store().get(object_id, kind, who.account, who.livemode)
            if params.has("active") and "active" in record.obj:
                record.obj["active"] = params.bool("active")
            for field in ("name", "description"):
                if params.has(field) and field in record.obj:
                    record.obj[field] = params.str(field)
            if params.has("metadata"):
                record.obj["metadata"].update(params.metadata())
            return respond(expanded(record.obj, RESOURCES[kind][3]))

    return view


def register_routes() -> None:
    """Attach the same four views to each resource (done once, at import of this module)."""
    for kind, (segment, *_rest) in RESOURCES.items():
        bp.add_url_rule(f"/{segment}", f"create_{kind}", _create(kind), methods=["POST"])
        bp.add_url_rule(f"/{segment}", f"list_{kind}", _list(kind), methods=["GET"])
        bp.add_url_rule(f"/{segment}/<object_id>", f"get_{kind}", _retrieve(kind), methods=["GET"])
        bp.add_url_rule(
            f"/{segment}/<object_id>", f"update_{kind}", _update(kind), methods=["POST"]
        )
    for kind in ("product", "coupon"):
        bp.add_url_rule(
            f"/{RESOURCES[kind][0]}/<object_id>",
            f"delete_{kind}",
            _delete(kind),
            methods=["DELETE"],
        )


register_routes()
