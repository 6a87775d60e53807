"""The switch that turns a merchant's recovery emails on and off, and what turning them on
needs first."""

from __future__ import annotations

from dataclasses import dataclass

from portal.models import Merchant
from portal.services import connections, terms
from portal.services.settings import settings_for


@dataclass(frozen=True)
class Missing:
    """Something recovery emails need before they can be turned on."""

    key: str  # "stripe", "terms" or "postal_address"
    message: str


def missing_to_enable(merchant: Merchant) -> list[Missing]:
    """What recovery emails still need before they can be turned on, in the order to do it."""
    missing = []
    if connections.connected_account(merchant) is None:
        missing.append(Missing("stripe", "Your Stripe account is not connected."))
    if not terms.has_accepted_current(merchant):
        missing.append(Missing("terms", "The current cart-recovery terms are not accepted."))
    if not settings_for(merchant.id).postal_address.strip():
        missing.append(
            Missing("postal_address", "There is no postal address for the emails' footer.")
        )
    return missing


def enable(merchant: Merchant) -> list[Missing]:
    """Turn recovery emails on, unless something is missing: then they stay as they were and
    the missing things are returned. The caller commits."""
    missing = missing_to_enable(merchant)
    if not missing:
        merchant.recovery_enabled = True
    return missing


def disable(merchant: Merchant) -> None:
    """Turn recovery emails off: none goes out while they are off. The caller commits."""
    merchant.recovery_enabled = False
