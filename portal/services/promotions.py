"""Incentives: a single-use promotion code minted for a step, from the coupon the merchant
picked, valid no longer than the recovery link, and capped per day per merchant."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta

from sqlalchemy import func, select

from portal import db
from portal.models import EmailSend
from portal.services import stripe_gateway
from portal.services.case_context import Context

log = logging.getLogger(__name__)
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are typed by people


def minted_today(merchant_id: int, now: datetime) -> int:
    since = now - timedelta(days=1)
    return (
        db.session.scalar(
            select(func.count())
            .select_from(EmailSend)
            .where(
                EmailSend.merchant_id == merchant_id,
                EmailSend.promotion_code.is_not(None),
                EmailSend.created_at > since,
            )
        )
        or 0
    )


def mint(ctx: Context, now: datetime) -> str | None:
    """A fresh code for this send, or None (no coupon chosen, cap reached, or Stripe refused:
    the email then goes out without one rather than not at all). Commits what the caller has
    written so far before asking Stripe: no transaction (on SQLite, the write lock) is held
    while Stripe answers."""
    settings, session = ctx.settings, ctx.session
    if not settings.coupon_id or session.recovery_expires_at is None:
        return None
    if minted_today(ctx.merchant.id, now) >= settings.promotion_daily_cap:
        return None
    code = "BACK-" + "".join(secrets.choice(ALPHABET) for _ in range(8))
    db.session.commit()
    try:
        return stripe_gateway.create_promotion_code(
            ctx.account, settings.coupon_id, int(session.recovery_expires_at.timestamp()), code
        )
    except (stripe_gateway.StripeError, stripe_gateway.GatewayError) as exc:
        log.warning("no promotion code for case %s: %s", ctx.case.id, exc)
        return None
