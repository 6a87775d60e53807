"""The demo merchant: an owner, a connected sandbox account with products, terms accepted and
recovery emails on. Seeding twice changes nothing."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select

from portal import db
from portal.models import ConnectMethod, Merchant, User
from portal.services import accounts, connections, stripe_gateway, terms
from portal.services.settings import settings_for

EMAIL, PASSWORD, NAME = "demo@example.com", "demo-password", "Demo Coffee Roasters"
PRODUCTS = (
    ("House Espresso Beans, 1 kg", 2400),
    ("Pour-over Kettle", 5900),
    ("Ceramic Cup", 1200),
)
# For promotion codes: Settings offers it once a follow-up (or the first email) asks for codes.
COUPON = {
    "id": "WELCOME10",
    "percent_off": 10,
    "duration": "once",
    "name": "Welcome back",
}


@dataclass(frozen=True)
class Demo:
    merchant: Merchant
    account_id: str


def seed() -> Demo:
    """Create or complete the demo merchant (the caller commits); StripeError/GatewayError if the
    sandbox is away."""
    owner = db.session.scalar(select(User).where(User.email == EMAIL))
    if owner is None:
        owner = accounts.create_merchant(NAME, EMAIL, PASSWORD, "Demo Owner")
    merchant = owner.merchant
    account_id = _ensure_account(merchant)
    stripe_gateway.add_catalog_if_none(merchant.stripe_account, PRODUCTS, COUPON)
    terms.accept(merchant, owner, ip="127.0.0.1")
    _sending_settings(merchant)
    merchant.recovery_enabled = True
    return Demo(merchant, account_id)


def _ensure_account(merchant: Merchant) -> str:
    """The merchant's sandbox account, created and linked if missing or forgotten by Stripe."""
    linked = connections.connected_account(merchant)
    if linked is not None:
        try:
            stripe_gateway.retrieve_account(linked.account_id)
            return linked.account_id
        except stripe_gateway.StripeError:
            pass  # the sandbox was reset: link a fresh account
    created = stripe_gateway.create_standard_account(
        {
            "email": EMAIL,
            "business_profile": {
                "name": NAME,
                "support_email": "hello@demo-coffee.example",
                "url": "https://demo-coffee.example",
            },
        }
    )
    live = stripe_gateway.is_live_key(current_app.config["STRIPE_SECRET_KEY"])
    info = stripe_gateway.retrieve_account(created)
    connections.link_account(
        merchant,
        created,
        livemode=live,
        method=ConnectMethod.OAUTH,
        display_name=NAME,
        shop_url=info["shop_url"],
        support_email=info["support_email"],
    )
    db.session.flush()
    return created


def _sending_settings(merchant: Merchant) -> None:
    """No delay, so a newcomer sees the email as soon as the cart expires."""
    settings = settings_for(merchant.id)
    settings.steps = [{"delay_minutes": 0, "promotion": False}]
    settings.postal_address = (
        settings.postal_address or "1 Roastery Lane\nPortland, OR 97201\nUnited States"
    )
    if settings.timezone in (None, "UTC"):  # the shop is in Portland: its times, Portland's
        settings.timezone = "America/Los_Angeles"
    settings.sender_name = settings.sender_name or NAME
    # The email invites replies: they go to the shop, not to the platform's no-reply address.
    settings.reply_to = settings.reply_to or "hello@demo-coffee.example"
