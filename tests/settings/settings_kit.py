"""Shared pieces for the sending settings tests: valid values, what is stored, the policy it makes."""

from __future__ import annotations


from portal.models import Merchant, SendingSettings
from portal.services import rules, settings

VALID = {
    "business_name": "Acme Tea",
    "sender_name": "Acme Tea",
    "reply_to": "help@acme.example",
    "postal_address": "1 Leaf Lane\r\nPortland, OR 97201",
    "timezone": "Europe/Paris",
    "quiet_start": "22",
    "quiet_end": "7",
    "steps-0-delay": "30",
    "steps-0-unit": "minutes",
    "steps-1-delay": "24",
    "steps-1-unit": "hours",
    "steps-2-delay": "72",
    "steps-2-unit": "hours",
    "frequency_cap_hours": "48",
    "holdout_percent": "10",
    "test_mode": "team",
    "locale": "fr_FR",
}


def stored(db, merchant_id: int) -> SendingSettings | None:
    db.expire_all()
    return db.get(SendingSettings, merchant_id)


def policy(db, merchant_id: int) -> rules.Policy:
    db.expire_all()
    merchant = db.get(Merchant, merchant_id)
    return settings.policy_for(merchant, settings.settings_for(merchant_id), None, False)
