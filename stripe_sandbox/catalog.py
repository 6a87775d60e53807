"""Products, prices, coupons and promotion codes: creation rules shared by the API and Checkout."""

from __future__ import annotations

import re

from . import shapes
from .auth import Caller
from .errors import bad_param, missing
from .params import Params
from .state import Record, Store, new_id, random_token

_CODE = re.compile(r"^[A-Za-z0-9-]{1,500}$")


def _stamp(store: Store, caller: Caller, body: dict, prefix: str, length: int = 24) -> dict:
    body.update(
        id=body.get("id") or new_id(prefix, length), created=store.now(), livemode=caller.livemode
    )
    return body


def create_product(store: Store, caller: Caller, params: Params) -> Record:
    """A product; `name` is required."""
    params.check_known(
        {
            "name",
            "description",
            "images",
            "metadata",
            "active",
            "url",
            "shippable",
            "tax_code",
            "unit_label",
            "statement_descriptor",
            "id",
            "default_price_data",
        }
    )
    body = _stamp(store, caller, shapes.product(), "prod_", 14)
    body.update(
        id=params.str("id") or body["id"],
        name=params.str("name", required=True),
        description=params.str("description"),
        images=params.strings("images"),
        metadata=params.metadata(),
        active=params.bool("active", True),
        url=params.str("url"),
        updated=body["created"],
    )
    if store.find(body["id"]) is not None:
        raise bad_param(
            f"Product already exists: '{body['id']}'", "id", code="resource_already_exists"
        )
    return store.add(body, caller.account)


def _price_product(store: Store, caller: Caller, params: Params, inline: bool) -> str:
    if params.has("product"):
        return store.get(
            params.str("product"),
            "product",
            caller.account,
            caller.livemode,
            params.name("product"),
        ).obj["id"]
    if params.has("product_data"):
        data = params.sub("product_data")
        data.check_known({"name", "description", "images", "metadata", "tax_code", "unit_label"})
        return create_product(store, caller, data).obj["id"]
    raise missing(params.name("product") if not inline else params.name("product_data"))


def create_price(store: Store, caller: Caller, params: Params, inline: bool = False) -> Record:
    """A price in minor units; `inline` prices come from Checkout's `price_data`."""
    params.check_known(
        {
            "unit_amount",
            "currency",
            "product",
            "product_data",
            "nickname",
            "metadata",
            "active",
            "lookup_key",
            "recurring",
            "tax_behavior",
            "unit_amount_decimal",
        }
    )
    with store.lock:
        currency = params.str("currency", required=True).lower()
        if not re.fullmatch(r"[a-z]{3}", currency):
            raise bad_param(f"Invalid currency: {currency}", params.name("currency"))
        amount = params.int("unit_amount", required=True, low=0, high=99999999)
        body = _stamp(store, caller, shapes.price(), "price_1")
        body.update(
            currency=currency,
            unit_amount=amount,
            unit_amount_decimal=str(amount),
            product=_price_product(store, caller, params, inline),
            nickname=params.str("nickname"),
            metadata=params.metadata(),
            active=params.bool("active", not inline),
            lookup_key=params.str("lookup_key"),
        )
        _apply_recurring(body, params)
        return store.add(body, caller.account)


def _apply_recurring(body: dict, params: Params) -> None:
    recurring = params.sub("recurring")
    if recurring.data:
        body["type"] = "recurring"
        body["recurring"] = {
            "interval": recurring.str(
                "interval", required=True, choices=("day", "week", "month", "year")
            ),
            "interval_count": recurring.int("interval_count", default=1, low=1),
            "meter": None,
            "trial_period_days": None,
            "usage_type": "licensed",
        }


COUPON_PARAMS = frozenset(
    "id percent_off amount_off currency duration duration_in_months max_redemptions name "
    "redeem_by metadata".split()
)


def create_coupon(store: Store, caller: Caller, params: Params) -> Record:
    """A coupon with exactly one of `percent_off` or `amount_off` (+ `currency`)."""
    params.check_known(COUPON_PARAMS)
    percent, amount = params.float("percent_off"), params.int("amount_off", low=1)
    if (percent is None) == (amount is None):
        raise bad_param("You must pass exactly one of percent_off or amount_off.", "percent_off")
    if percent is not None and not 0 < percent <= 100:
        raise bad_param("percent_off must be between 0 and 100.", "percent_off")
    if amount is not None and not params.has("currency"):
        raise missing("currency")
    body = _stamp(store, caller, shapes.coupon(), "", 0)
    body.update(
        id=params.str("id") or random_token(8, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"),
        percent_off=percent,
        amount_off=amount,
        currency=(params.str("currency") or "").lower() or None,
        duration=params.str("duration", default="once", choices=("once", "repeating", "forever")),
        duration_in_months=params.int("duration_in_months", low=1),
        max_redemptions=params.int("max_redemptions", low=1),
        name=params.str("name"),
        redeem_by=params.int("redeem_by"),
        metadata=params.metadata(),
    )
    if store.find(body["id"]) is not None:
        raise bad_param(
            f"Coupon already exists: '{body['id']}'", "id", code="resource_already_exists"
        )
    return store.add(body, caller.account)


def _promotion_coupon(params: Params) -> tuple[str, str]:
    # stripe-python 16 sends `promotion[type]=coupon&promotion[coupon]=…`; older clients `coupon=…`.
    if params.has("promotion"):
        promotion = params.sub("promotion")
        promotion.str("type", required=True, choices=("coupon",))
        return promotion.str("coupon", required=True), promotion.name("coupon")
    if params.has("coupon"):
        return params.str("coupon"), "coupon"
    raise missing("promotion")


def create_promotion_code(store: Store, caller: Caller, params: Params) -> Record:
    """A customer-facing code for one of the caller's coupons; codes are unique among active ones."""
    params.check_known(
        {
            "promotion",
            "coupon",
            "code",
            "active",
            "customer",
            "customer_account",
            "expires_at",
            "max_redemptions",
            "metadata",
            "restrictions",
        }
    )
    with store.lock:
        coupon_id, param = _promotion_coupon(params)
        coupon = store.get(coupon_id, "coupon", caller.account, caller.livemode, param)
        code = params.str("code") or random_token(8, "ABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        if not _CODE.match(code):
            raise bad_param("Invalid code: use letters, digits and dashes only.", "code")
        _check_code_free(store, caller, code)
        body = _stamp(store, caller, shapes.promotion_code(), "promo_1")
        body.update(
            code=code,
            active=params.bool("active", True),
            customer=params.str("customer"),
            customer_account=params.str("customer_account"),
            expires_at=params.int("expires_at", low=store.now() + 1),
            max_redemptions=params.int("max_redemptions", low=1),
            metadata=params.metadata(),
            promotion={"coupon": coupon.obj["id"], "type": "coupon"},
        )
        return store.add(body, caller.account)


def _check_code_free(store: Store, caller: Caller, code: str) -> None:
    for record in store.all("promotion_code", caller.account, caller.livemode):
        if record.obj["active"] and record.obj["code"].lower() == code.lower():
            raise bad_param(
                "An active promotion code with `code` already exists.",
                "code",
                code="resource_already_exists",
            )
