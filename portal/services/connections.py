"""Linking a merchant to its Stripe account, and unlinking it."""

from __future__ import annotations

from sqlalchemy import select

from portal import db
from portal.db import utcnow
from portal.models import Merchant, StripeAccount
from portal import sealing


class LinkError(ValueError):
    """The account cannot be linked to this merchant; the message is for the person."""


def link_account(
    merchant: Merchant,
    account_id: str,
    *,
    livemode: bool,
    method: str,
    display_name: str = "",
    api_key: str | None = None,
    webhook_secret: str | None = None,
    keys: str = "",
    shop_url: str | None = None,
    support_email: str | None = None,
) -> StripeAccount:
    """Link (or re-link) `account_id` to `merchant`; secrets are sealed with `keys`.
    Refuses an account another merchant holds. The caller commits."""
    holder = db.session.scalar(select(StripeAccount).where(StripeAccount.account_id == account_id))
    if holder is not None and holder.merchant_id != merchant.id:
        raise LinkError(f"Stripe account {account_id} is already linked to another merchant.")
    account = merchant.stripe_account or holder or StripeAccount(merchant=merchant)
    account.account_id, account.livemode, account.method = account_id, livemode, method
    account.display_name, account.shop_url, account.support_email = (
        display_name,
        shop_url,
        support_email,
    )
    account.api_key_sealed = sealing.seal(api_key, keys) if api_key else None
    account.webhook_secret_sealed = sealing.seal(webhook_secret, keys) if webhook_secret else None
    account.connected_at, account.disconnected_at = utcnow(), None
    db.session.add(account)
    return account


def connected_account(merchant: Merchant) -> StripeAccount | None:
    """The merchant's account if it is currently connected."""
    account = merchant.stripe_account
    return account if account is not None and account.is_connected else None
