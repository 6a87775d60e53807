"""Default field sets of each Stripe object, with the values a fresh object has.

Every function returns a new dict carrying exactly the top-level fields the real API returns
for that type (checked against Stripe's OpenAPI fixtures by the contract tests); the services
fill in real state on top.
"""

from __future__ import annotations

API_VERSION = "2026-10-28.endive"


def _address() -> dict:
    return {
        "city": None,
        "country": None,
        "line1": None,
        "line2": None,
        "postal_code": None,
        "state": None,
    }


# Fields that are null on a fresh object (the rest are set below).
_SESSION_NULLS = (
    "id after_expiration allow_promotion_codes billing_address_collection cancel_url "
    "client_reference_id client_secret collected_information consent consent_collection "
    "currency currency_conversion customer customer_account customer_details "
    "customer_email integration_identifier invoice locale origin_context payment_intent "
    "payment_link payment_method_configuration_details permissions recovered_from "
    "saved_payment_method_options setup_intent shipping_address_collection shipping_cost "
    "submit_type subscription success_url url wallet_options"
)


def _invoice_data() -> dict:
    fields = "account_tax_ids custom_fields description footer issuer rendering_options"
    return {**dict.fromkeys(fields.split()), "metadata": {}}


def checkout_session() -> dict:
    """A fresh `checkout.session` in payment mode."""
    return {
        **dict.fromkeys(_SESSION_NULLS.split()),
        "object": "checkout.session",
        "adaptive_pricing": {"enabled": False},
        "amount_subtotal": 0,
        "amount_total": 0,
        "automatic_tax": {"enabled": False, "liability": None, "provider": None, "status": None},
        "created": 0,
        "custom_fields": [],
        "custom_text": dict.fromkeys(
            ["after_submit", "shipping_address", "submit", "terms_of_service_acceptance"]
        ),
        "customer_creation": "if_required",
        "discounts": [],
        "expires_at": 0,
        "invoice_creation": {"enabled": False, "invoice_data": _invoice_data()},
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": {},
        "mode": "payment",
        "payment_method_collection": "if_required",
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "phone_number_collection": {"enabled": False},
        "shipping_options": [],
        "status": "open",
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
    }


def customer_details() -> dict:
    """What Checkout collected from the shopper, before anything is typed."""
    return {
        "address": _address(),
        "business_name": None,
        "email": None,
        "individual_name": None,
        "name": None,
        "phone": None,
        "tax_exempt": "none",
        "tax_ids": [],
    }


def line_item() -> dict:
    """A Checkout line `item`; `price` is filled with an expanded price."""
    return {
        "id": None,
        "object": "item",
        "adjustable_quantity": None,
        "amount_discount": 0,
        "amount_subtotal": 0,
        "amount_tax": 0,
        "amount_total": 0,
        "currency": None,
        "description": None,
        "metadata": {},
        "price": None,
        "quantity": 1,
    }


def price() -> dict:
    """A one-time `price`."""
    return {
        "id": None,
        "object": "price",
        "active": True,
        "billing_scheme": "per_unit",
        "created": 0,
        "currency": None,
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": None,
        "metadata": {},
        "nickname": None,
        "product": None,
        "recurring": None,
        "tax_behavior": "unspecified",
        "tiers_mode": None,
        "transform_quantity": None,
        "type": "one_time",
        "unit_amount": 0,
        "unit_amount_decimal": "0",
    }


def product() -> dict:
    """A `product`."""
    return {
        "id": None,
        "object": "product",
        "active": True,
        "created": 0,
        "default_price": None,
        "description": None,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": {},
        "name": None,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "type": "service",
        "unit_label": None,
        "updated": 0,
        "url": None,
    }


def coupon() -> dict:
    """A `coupon`."""
    return {
        "id": None,
        "object": "coupon",
        "amount_off": None,
        "created": 0,
        "currency": None,
        "duration": "once",
        "duration_in_months": None,
        "livemode": False,
        "max_redemptions": None,
        "metadata": {},
        "name": None,
        "percent_off": None,
        "redeem_by": None,
        "times_redeemed": 0,
        "valid": True,
    }


def promotion_code() -> dict:
    """A `promotion_code` in the current API shape (`promotion.coupon`)."""
    return {
        "id": None,
        "object": "promotion_code",
        "active": True,
        "code": None,
        "created": 0,
        "customer": None,
        "customer_account": None,
        "expires_at": None,
        "livemode": False,
        "max_redemptions": None,
        "metadata": {},
        "promotion": {"coupon": None, "type": "coupon"},
        "restrictions": {
            "first_time_transaction": False,
            "minimum_amount": None,
            "minimum_amount_currency": None,
        },
        "times_redeemed": 0,
    }


def event() -> dict:
    """An `event` envelope (Connect deliveries add a top-level `account`)."""
    return {
        "id": None,
        "object": "event",
        "api_version": API_VERSION,
        "created": 0,
        "data": {"object": None},
        "livemode": False,
        "pending_webhooks": 0,
        "request": {"id": None, "idempotency_key": None},
        "type": None,
    }


def webhook_endpoint() -> dict:
    """A `webhook_endpoint` (the `secret` is only shown on create)."""
    return {
        "id": None,
        "object": "webhook_endpoint",
        "api_version": None,
        "application": None,
        "created": 0,
        "description": None,
        "enabled_events": [],
        "livemode": False,
        "metadata": {},
        "status": "enabled",
        "url": None,
    }


# Fields that are null on a fresh object (the rest are set below).
_INTENT_NULLS = (
    "id application application_fee_amount automatic_payment_methods canceled_at "
    "cancellation_reason client_secret currency customer customer_account description "
    "excluded_payment_method_types last_payment_error latest_charge next_action "
    "on_behalf_of payment_method payment_method_configuration_details processing "
    "receipt_email review setup_future_usage shipping source statement_descriptor "
    "statement_descriptor_suffix transfer_data transfer_group"
)


def payment_intent() -> dict:
    """A succeeded card `payment_intent` as Checkout leaves it."""
    return {
        **dict.fromkeys(_INTENT_NULLS.split()),
        "object": "payment_intent",
        "amount": 0,
        "amount_capturable": 0,
        "amount_details": {"tip": {}},
        "amount_received": 0,
        "capture_method": "automatic",
        "confirmation_method": "automatic",
        "created": 0,
        "livemode": False,
        "managed_payments": {"enabled": False},
        "metadata": {},
        "payment_method_options": {},
        "payment_method_types": ["card"],
        "status": "succeeded",
    }


def address() -> dict:
    """An empty postal address."""
    return _address()
