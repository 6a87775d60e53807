"""Account fields the platform (or the OAuth page) can set: profile, email and branding."""

from __future__ import annotations

import re

from . import shapes
from .errors import bad_param
from .params import Params

ACCOUNT_PARAMS = {
    "type",
    "email",
    "country",
    "default_currency",
    "business_profile",
    "settings",
    "metadata",
    "business_type",
    "controller",
    "capabilities",
}
PROFILE_FIELDS = (
    "name",
    "support_email",
    "support_phone",
    "support_url",
    "url",
    "product_description",
    "mcc",
)
ADDRESS_FIELDS = ("city", "country", "line1", "line2", "postal_code", "state")
BRANDING_FIELDS = ("icon", "logo", "primary_color", "secondary_color")
_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")


def apply_profile(body: dict, params: Params) -> None:
    """Copy `business_profile[...]` parameters onto the account body."""
    profile = params.sub("business_profile")
    profile.check_known(PROFILE_FIELDS + ("support_address",))
    for field in PROFILE_FIELDS:
        if profile.has(field):
            body["business_profile"][field] = profile.str(field)
    address = profile.sub("support_address")
    if address.data:
        address.check_known(ADDRESS_FIELDS)
        current = body["business_profile"]["support_address"] or shapes.address()
        current.update({f: address.str(f) for f in ADDRESS_FIELDS if address.has(f)})
        body["business_profile"]["support_address"] = current


def apply_branding(body: dict, params: Params) -> None:
    """Copy `settings[branding][...]` onto the account; colours must be `#rrggbb`."""
    settings = params.sub("settings")
    settings.check_known({"branding", "dashboard", "payments", "card_payments", "payouts"})
    branding = settings.sub("branding")
    branding.check_known(BRANDING_FIELDS)
    for field in BRANDING_FIELDS:
        if not branding.has(field):
            continue
        value = branding.str(field)
        if field.endswith("color") and not _COLOR.match(value):
            raise bad_param(f"Invalid hex color: {value}", branding.name(field))
        body["settings"]["branding"][field] = value


def apply_account_params(body: dict, params: Params) -> None:
    """Every supported account parameter, validated, onto `body`."""
    params.check_known(ACCOUNT_PARAMS)
    params.str("type", choices=("standard", "express", "custom"))
    if params.has("email"):
        body["email"] = params.str("email")
    if params.has("country"):
        body["country"] = params.str("country").upper()
    if params.has("default_currency"):
        body["default_currency"] = params.str("default_currency").lower()
    if params.has("metadata"):
        body["metadata"].update(params.metadata())
    apply_profile(body, params)
    apply_branding(body, params)
    name = body["business_profile"]["name"]
    body["settings"]["dashboard"]["display_name"] = name
