"""A Stripe account object as the portal keeps it: the defaults of the merchant's emails."""

from __future__ import annotations


def profile(account: dict) -> dict:
    """{"id", "name", "email", "shop_url", "support_email", "support_address",
    "primary_color", "country"}: the defaults for the emails (missing fields are None; the name
    falls back to the id). Icon and logo are File ids in Stripe, not addresses: they are left
    out."""
    business = account.get("business_profile") or {}
    branding = (account.get("settings") or {}).get("branding") or {}
    return {
        "id": account["id"],
        "name": business.get("name") or account["id"],
        "email": account.get("email"),
        "shop_url": business.get("url"),
        "support_email": business.get("support_email"),
        "support_address": _address_lines(business.get("support_address")),
        "primary_color": branding.get("primary_color"),
        "country": account.get("country"),
    }


def _address_lines(address) -> str | None:
    """A Stripe address as the lines of a postal address (None when it has none)."""
    if not address:
        return None
    town = " ".join(filter(None, (address.get("postal_code"), address.get("city"))))
    parts = (address.get("line1"), address.get("line2"), town, address.get("state"))
    lines = [p for p in (*parts, address.get("country")) if p]
    return "\n".join(lines) or None
