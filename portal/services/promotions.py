"""Incentives: a single-use promotion code minted for a step, from the coupon the merchant
picked, valid no longer than the recovery link, and capped per day per merchant."""

from __future__ import annotations

import logging
import secrets
from datetime import timedelta

from portal import db
from portal.services import stripe_gateway, throttle
from portal.services.case_context import Context

log = logging.getLogger(__name__)
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are typed by people
DAY = timedelta(days=1)  # the window of the merchant's promotion_daily_cap


def _key(merchant_id: int) -> str:
    return f"promotion-code:{merchant_id}"


def mint(ctx: Context) -> str | None:
    """A fresh code for this send, or None (no coupon chosen, cap reached, or Stripe refused:
    the email then goes out without one rather than not at all). Commits what the caller has
    written so far before asking Stripe: no transaction (on SQLite, the write lock) is held
    while Stripe answers. The code is counted against the cap, committed, then the count read
    (withdrawn when refused): of many workers minting at once, no more than the cap's go."""
    settings, session = ctx.settings, ctx.session
    if not settings.coupon_id or session.recovery_expires_at is None:
        return None
    counted = throttle.hit(_key(ctx.merchant.id))
    db.session.commit()
    over = throttle.count(_key(ctx.merchant.id), DAY) > settings.promotion_daily_cap
    db.session.commit()  # only read: end it, so that no transaction is open while Stripe answers
    if over:
        return _withdrawn(counted)
    code = "BACK-" + "".join(secrets.choice(ALPHABET) for _ in range(8))
    try:
        return stripe_gateway.create_promotion_code(
            ctx.account, settings.coupon_id, int(session.recovery_expires_at.timestamp()), code
        )
    except (stripe_gateway.StripeError, stripe_gateway.GatewayError) as exc:
        log.warning("no promotion code for case %s: %s", ctx.case.id, exc)
        return _withdrawn(counted)


def _withdrawn(counted) -> None:
    """Uncount a code that was not minted. Commits: the count was committed before Stripe was
    asked, so its withdrawal must be too."""
    throttle.withdraw([counted])
    db.session.commit()
