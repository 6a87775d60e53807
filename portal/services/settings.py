"""A merchant's sending settings: the stored row with its defaults, and the rules' Policy made
from it. The settings page and the engine read them through here."""

from __future__ import annotations

from datetime import timedelta

from portal import db
from portal.models import Merchant, SendingSettings, StripeAccount
from portal.services import rules


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
        frequency_cap=timedelta(hours=settings.frequency_cap_hours),
        holdout_share=settings.holdout_percent / 100,
        test_mode=settings.test_mode,
    )
