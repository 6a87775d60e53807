"""Creating Checkout Sessions and their line items from Stripe's parameters."""

from __future__ import annotations

import copy

from . import catalog, shapes
from .auth import Caller
from .errors import bad_param, missing
from .params import Params
from .state import Record, Store, new_id, random_token

SESSION_PARAMS = {
    "line_items",
    "mode",
    "customer",
    "customer_account",
    "customer_email",
    "success_url",
    "cancel_url",
    "consent_collection",
    "after_expiration",
    "expires_at",
    "metadata",
    "client_reference_id",
    "allow_promotion_codes",
    "discounts",
    "locale",
    "payment_method_types",
    "billing_address_collection",
    "customer_creation",
    "submit_type",
    "ui_mode",
    "payment_intent_data",
    "phone_number_collection",
    "automatic_tax",
    "invoice_creation",
    "shipping_address_collection",
    "custom_text",
    "return_url",
}
MIN_LIFETIME, MAX_LIFETIME = 30 * 60, 24 * 60 * 60


def session_url(config: dict, session_id: str) -> str:
    """The hosted checkout page of a session."""
    return f"{config['PUBLIC_URL'].rstrip('/')}/c/pay/{session_id}"


def _item_price(store: Store, caller: Caller, item: Params) -> dict:
    if item.has("price"):
        if item.has("price_data"):
            raise bad_param(
                "You may only specify one of price and price_data.", item.name("price")
            )
        record = store.get(
            item.str("price"), "price", caller.account, caller.livemode, item.name("price")
        )
        if not record.obj["active"]:
            raise bad_param("The price specified is inactive.", item.name("price"))
        return record.obj
    if item.has("price_data"):
        return catalog.create_price(store, caller, item.sub("price_data"), inline=True).obj
    raise missing(item.name("price"))


def build_line_items(store: Store, caller: Caller, params: Params) -> list[dict]:
    """`item` objects (price expanded) for `line_items`; 400 when missing or inconsistent."""
    entries = params.items("line_items")
    if not entries:
        raise missing("line_items")
    items = []
    for entry in entries:
        entry.check_known(
            {
                "price",
                "price_data",
                "quantity",
                "adjustable_quantity",
                "tax_rates",
                "dynamic_tax_rates",
            }
        )
        price = copy.deepcopy(_item_price(store, caller, entry))
        if price["type"] != "one_time":
            raise bad_param("You must use one-time prices in `payment` mode.", entry.name("price"))
        quantity = entry.int("quantity", required=True, low=1, high=999999)
        items.append(_item(store, caller, price, quantity))
    if len({item["currency"] for item in items}) > 1:
        raise bad_param("All line items must use the same currency.", "line_items")
    return items


def _item(store: Store, caller: Caller, price: dict, quantity: int) -> dict:
    item = shapes.line_item()
    product = store.get(price["product"], "product", caller.account, None)
    amount = price["unit_amount"] * quantity
    item.update(
        id=new_id("li_1"),
        currency=price["currency"],
        price=price,
        quantity=quantity,
        description=product.obj["name"],
        amount_subtotal=amount,
        amount_total=amount,
    )
    return item


def copy_items(items: list[dict]) -> list[dict]:
    """The same cart with fresh line item ids (for a recovered session)."""
    fresh = copy.deepcopy(items)
    for item in fresh:
        item["id"] = new_id("li_1")
    return fresh


def _expires_at(store: Store, params: Params) -> int:
    now = store.now()
    expires_at = params.int("expires_at", default=now + MAX_LIFETIME)
    if not now + MIN_LIFETIME <= expires_at <= now + MAX_LIFETIME:
        raise bad_param(
            "The `expires_at` timestamp must be between 30 minutes and 24 hours "
            "from Checkout Session creation.",
            "expires_at",
        )
    return expires_at


def _after_expiration(params: Params) -> dict | None:
    recovery = params.sub("after_expiration").sub("recovery")
    if not recovery.data:
        return None
    enabled = recovery.bool("enabled")
    if enabled is None:
        raise missing(recovery.name("enabled"))
    return {
        "recovery": {
            "allow_promotion_codes": recovery.bool("allow_promotion_codes", False),
            "enabled": enabled,
            "expires_at": None,
            "url": None,
        }
    }


def _consent_collection(params: Params) -> dict | None:
    consent = params.sub("consent_collection")
    if not consent.data:
        return None
    return {
        "payment_method_reuse_agreement": None,
        "promotions": consent.str("promotions", choices=("auto", "none")),
        "terms_of_service": consent.str(
            "terms_of_service", default="none", choices=("required", "none")
        ),
    }


def _customer_fields(params: Params) -> dict:
    customer = params.str("customer")
    if customer is not None and not customer.startswith("cus_"):
        raise bad_param(f"No such customer: '{customer}'", "customer")
    if customer and params.has("customer_email"):
        raise bad_param(
            "You may only specify one of these parameters: customer, customer_email.",
            "customer_email",
        )
    return {
        "customer": customer,
        "customer_account": params.str("customer_account"),
        "customer_email": params.str("customer_email"),
    }


def _base_fields(params: Params) -> dict:
    mode = params.str("mode", required=True, choices=("payment", "setup", "subscription"))
    if mode != "payment":
        raise bad_param("The sandbox supports `mode=payment` only.", "mode")
    return {
        "mode": mode,
        "success_url": params.str("success_url"),
        "cancel_url": params.str("cancel_url"),
        "metadata": params.metadata(),
        "client_reference_id": params.str("client_reference_id"),
        "locale": params.str("locale"),
        "allow_promotion_codes": params.bool("allow_promotion_codes"),
    }


def create_session(store: Store, config: dict, caller: Caller, params: Params) -> Record:
    """A new open session from API parameters (validated before anything is stored)."""
    params.check_known(SESSION_PARAMS)
    with store.lock:
        fields = {
            **_base_fields(params),
            **_customer_fields(params),
            "expires_at": _expires_at(store, params),
            "after_expiration": _after_expiration(params),
            "consent_collection": _consent_collection(params),
        }
        items = build_line_items(store, caller, params)
        return open_session(store, config, caller.account, caller.livemode, fields, items)


def open_session(
    store: Store, config: dict, account: str, livemode: bool, fields: dict, items: list[dict]
) -> Record:
    """Store an open session for `items` with the given fields; amounts come from the items."""
    body = shapes.checkout_session()
    prefix = "cs_live_" if livemode else "cs_test_"
    body.update(fields)
    body.update(
        id=prefix + "a1" + random_token(56),
        created=store.now(),
        livemode=livemode,
        currency=items[0]["currency"],
        status="open",
        payment_status="unpaid",
    )
    if body["consent_collection"] is not None:
        body["consent"] = {"promotions": None, "terms_of_service": None}
    body["url"] = session_url(config, body["id"])
    subtotal = sum(item["amount_subtotal"] for item in items)
    body.update(amount_subtotal=subtotal, amount_total=subtotal)
    return store.add(body, account, line_items=items)
