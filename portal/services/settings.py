"""A merchant's sending settings: the stored row with its defaults, the rules' Policy made from
it, and saving new values once settings_values finds no problem with them (turning recovery
emails on and off is switch.py's). The settings page and the engine read them through here;
a CLI or an API would save through `update` too."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from datetime import timedelta

from portal import db
from portal.models import Merchant, SendingSettings, StripeAccount
from portal.services import accounts, rules
from portal.services.settings_values import Problem, StepValues, Values, problems


def settings_for(merchant_id: int) -> SendingSettings:
    """The merchant's sending settings, created with the defaults on first use (the caller
    commits)."""
    settings = db.session.get(SendingSettings, merchant_id)
    if settings is None:
        settings = SendingSettings(merchant_id=merchant_id)
        db.session.add(settings)
        db.session.flush()
    return settings


def steps_of(settings: SendingSettings) -> tuple[rules.Step, ...]:
    """The stored steps as the rules read them (at most rules.MAX_STEPS). Stored, a step is
    {"delay_minutes": int (after expiry), "promotion": bool (mint a code for it)}."""
    return tuple(
        rules.Step(timedelta(minutes=int(step["delay_minutes"])), bool(step.get("promotion")))
        for step in settings.steps[: rules.MAX_STEPS]
    )


def policy_for(
    merchant: Merchant,
    settings: SendingSettings,
    account: StripeAccount | None,
    terms_accepted: bool,
) -> rules.Policy:
    """The rules' view of the merchant: readiness to send, and the sending settings."""
    quiet = None
    if settings.quiet_start is not None and settings.quiet_end is not None:
        quiet = (settings.quiet_start, settings.quiet_end)
    return rules.Policy(
        connected=account is not None and account.is_connected,
        terms_accepted=terms_accepted,
        enabled=merchant.recovery_enabled,
        steps=steps_of(settings),
        quiet_hours=quiet,
        timezone=settings.timezone,
        quiet_zone=settings.quiet_zone,
        frequency_cap=timedelta(hours=settings.frequency_cap_hours),
        holdout_share=settings.holdout_percent / 100,
        test_mode=settings.test_mode,
    )


def values_of(settings: SendingSettings) -> Values:
    """The stored settings as Values (what the page shows before any change)."""
    steps = tuple(
        StepValues(int(step["delay_minutes"]), bool(step.get("promotion")))
        for step in settings.steps
    )
    return Values(
        sender_name=settings.sender_name,
        reply_to=settings.reply_to,
        postal_address=settings.postal_address,
        timezone=settings.timezone,
        quiet_start=settings.quiet_start,
        quiet_end=settings.quiet_end,
        quiet_zone=settings.quiet_zone,
        steps=steps,
        frequency_cap_hours=settings.frequency_cap_hours,
        holdout_percent=settings.holdout_percent,
        test_mode=settings.test_mode,
        coupon_id=settings.coupon_id,
        locale=settings.locale,
    )


def update(merchant: Merchant, values: Values, coupons: set[str] | None = None) -> list[Problem]:
    """Store `values` if every one is acceptable; otherwise store nothing. The problems found,
    each naming its field (empty when saved). `coupons`: the merchant's coupon ids, when
    Stripe could be asked. The caller commits."""
    found = problems(values, enabled=merchant.recovery_enabled, coupons=coupons)
    if not found:
        _store(merchant, values)
    return found


def _store(merchant: Merchant, values: Values) -> None:
    settings, values = settings_for(merchant.id), as_stored(values)
    settings.sender_name = values.sender_name
    settings.reply_to = values.reply_to
    settings.postal_address = values.postal_address
    settings.timezone = values.timezone
    settings.quiet_start, settings.quiet_end = values.quiet_start, values.quiet_end
    settings.quiet_zone = values.quiet_zone
    settings.steps = [
        {"delay_minutes": step.delay_minutes, "promotion": step.promotion} for step in values.steps
    ]
    settings.frequency_cap_hours = values.frequency_cap_hours
    settings.holdout_percent = values.holdout_percent
    settings.test_mode = values.test_mode
    settings.coupon_id = values.coupon_id
    settings.locale = values.locale


def as_stored(values: Values) -> Values:
    """`values` as `update` stores them: the address's lines trimmed, empty choices none."""
    address = "\n".join(line.rstrip() for line in values.postal_address.splitlines())
    return replace(
        values,
        postal_address=address,
        reply_to=values.reply_to or None,
        coupon_id=values.coupon_id or None,
    )


def stamp(merchant: Merchant) -> str:
    """A digest of the merchant's stored settings and name: a page carries the one it was made
    from, and a save from a page older than a change made since (another tab) is refused."""
    stored = values_of(settings_for(merchant.id))
    return hashlib.sha256(repr((stored, merchant.name)).encode()).hexdigest()[:16]


class ChangedSince(Exception):
    """The settings were changed since the page that sent new ones was made (another tab);
    `stamped`: False when the save carried no stamp a page could have had (missing, crafted)."""

    def __init__(self, stamped: bool):
        super().__init__()
        self.stamped = stamped


def save(merchant: Merchant, values: Values, name: str, seen: str, coupons=None) -> list[Problem]:
    """Store `values` and the business `name` as `update` does, when the page's stamp `seen` is
    still current or they are exactly what is stored (a double click's second save); the
    problems found (empty: saved). ChangedSince otherwise: saving again, knowingly, from the
    page then shown replaces the change. The caller commits."""
    found = problems(values, enabled=merchant.recovery_enabled, coupons=coupons)
    if found:
        return found
    if seen != stamp(merchant) and not holds(merchant, values, name):
        raise ChangedSince(stamped=re.fullmatch("[0-9a-f]{16}", seen or "") is not None)
    _store(merchant, values)
    accounts.rename_business(merchant, name)
    return []


def holds(merchant: Merchant, values: Values, name: str) -> bool:
    """Whether `values` and `name` are exactly what is stored (a double click's second save)."""
    return as_stored(values) == values_of(settings_for(merchant.id)) and name == merchant.name
