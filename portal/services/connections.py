"""Linking a merchant to its Stripe account, and unlinking it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from portal import db
from portal.db import utcnow
from portal.mail.values import email_locale, locale_choices, one_line
from portal.models import ConnectMethod, Merchant, SendingSettings, StripeAccount
from portal import sealing
from portal.services import settings, settings_values, stripe_gateway
from portal.services.stripe_gateway import GatewayError, StripeError

# Stripe's colours are "#rrggbb"; anything else is not copied into the email's settings.
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


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
    account.webhook_refused_at = account.webhook_refused_reason = (
        None  # a new secret, a clean slate
    )
    db.session.add(account)
    return account


def connected_account(merchant: Merchant) -> StripeAccount | None:
    """The merchant's account if it is currently connected."""
    account = merchant.stripe_account
    return account if account is not None and account.is_connected else None


def link_profile(
    merchant: Merchant,
    profile: dict,
    sending: SendingSettings,
    *,
    livemode: bool,
    method: str,
    **secrets,
) -> str:
    """Link the account Stripe described (`profile`, from stripe_gateway) as `link_account`
    does (`secrets`: api_key, webhook_secret, keys), and make its name, colour and support
    address the email's defaults where the merchant has not set them; returns a sentence for
    the merchant naming what was taken ("" for nothing). LinkError if another merchant holds
    the account, and then nothing changes. The caller commits."""
    link_account(
        merchant,
        profile["id"],
        livemode=livemode,
        method=method,
        display_name=one_line(profile["name"]) or profile["id"],
        shop_url=profile.get("shop_url"),
        support_email=profile.get("support_email"),
        **secrets,
    )
    taken = _adopt_defaults(sending, profile)
    if not taken:
        return ""
    return f"From your Stripe account, as defaults you can change in Settings: {', '.join(taken)}."


def connect_oauth(merchant_id: int, code: str) -> tuple[str, str]:
    """Exchange a Connect OAuth authorization code and link its account to the merchant: the
    account's name and the sentence naming the defaults taken. StripeError or GatewayError when
    Stripe does not connect it, LinkError when another merchant holds it: nothing is written.
    Commits: no transaction stays open across the calls to Stripe (its webhook about this very
    connection reaches the portal meanwhile and must be able to write, on SQLite too)."""
    db.session.rollback()
    account_id, livemode = stripe_gateway.exchange_code(code)
    profile = _profile_or_bare(account_id)
    taken = link_and_commit(merchant_id, profile, livemode=livemode, method=ConnectMethod.OAUTH)
    return profile["name"], taken


def _profile_or_bare(account_id: str) -> dict:
    """The account's details; only its id if Stripe will not say more (it is connected now)."""
    try:
        return stripe_gateway.retrieve_account(account_id)
    except StripeError:
        return {"id": account_id, "name": account_id}


def link_and_commit(merchant_id: int, profile: dict, **how) -> str:
    """`link_profile` for the merchant, committed; LinkError: nothing is written. Commits: the
    link must hold before the page says so. Tried a second time if SQLite refuses the write
    because another connection wrote since this transaction first read: Stripe's webhook about
    this very connection does so."""
    for attempt in (1, 2):
        try:
            merchant = db.session.get(Merchant, merchant_id)
            taken = link_profile(merchant, profile, settings.settings_for(merchant_id), **how)
            db.session.commit()
            return taken
        except LinkError:
            db.session.rollback()
            raise
        except OperationalError:
            db.session.rollback()
            if attempt == 2:
                raise


def _adopt_defaults(sending: SendingSettings, profile: dict) -> list[str]:
    """Take Stripe's branding where the merchant has set nothing; what was taken, in words."""
    taken = []
    # Stripe's name is one line here as a sender name must be (Settings refuses a line break).
    name = one_line(profile["name"])[: SendingSettings.sender_name.type.length].strip()
    if (
        not sending.sender_name
        and name
        and profile["name"] != profile["id"]
        and not settings_values.ADDRESS_MARKS.search(name)  # Settings would refuse it
    ):
        sending.sender_name = name
        taken.append(f"the sender name “{name}”")
    color = profile.get("primary_color") or ""
    if _COLOR.fullmatch(color) and sending.brand_color in (None, _default_brand_color()):
        sending.brand_color = color.lower()
        taken.append(f"the brand colour {color.lower()}")
    if not sending.postal_address and profile.get("support_address"):
        sending.postal_address = profile["support_address"]
        taken.append("the postal address")
    locale = _english_locale(profile.get("country"))
    if locale and sending.locale in (None, _default_locale()):
        sending.locale = locale
        taken.append(
            f"amounts and dates written as in {dict(locale_choices()).get(locale, locale)}"
        )
    return taken


def _english_locale(country) -> str | None:
    """The locale English takes in `country` ("en_GB" for "GB") if Babel knows exactly that
    one, else None: the emails' words are English, their amounts and dates the country's."""
    if not isinstance(country, str) or not re.fullmatch(r"[A-Za-z]{2}", country):
        return None
    locale = f"en_{country.upper()}"
    return locale if email_locale(locale) == locale else None


def _default_locale() -> str:
    return SendingSettings.__table__.c.locale.default.arg


def _default_brand_color() -> str:
    return SendingSettings.__table__.c.brand_color.default.arg


def disconnect(merchant: Merchant) -> StripeAccount | None:
    """Mark the merchant's account disconnected, so nothing more is sent for it, and forget a
    direct-mode key and signing secret; the account, or None if none was connected. The
    caller commits (at once: sending stops only then)."""
    account = connected_account(merchant)
    if account is None:
        return None
    account.disconnected_at = utcnow()
    account.api_key_sealed = account.webhook_secret_sealed = None
    return account


@dataclass(frozen=True)
class Disconnected:
    method: ConnectMethod
    refused: Exception | None  # why Stripe did not confirm the revocation; None: it did


def disconnect_and_revoke(merchant: Merchant) -> Disconnected | None:
    """Disconnect the merchant's account (`disconnect`), then revoke the platform's access at
    Stripe for a Connect account (a direct-mode merchant deletes their own key); None if none
    was connected. Commits before Stripe is asked: sending stops whatever Stripe answers."""
    account = disconnect(merchant)
    if account is None:
        return None
    method, account_id = ConnectMethod(account.method), account.account_id
    db.session.commit()
    if method == ConnectMethod.DIRECT:
        return Disconnected(method, None)
    try:
        stripe_gateway.deauthorize(account_id)
    except (StripeError, GatewayError) as exc:
        return Disconnected(method, exc)
    return Disconnected(method, None)


def key_hint(account: StripeAccount, keys: str) -> str | None:
    """The last four characters of a direct-mode key, to recognise it by; never more."""
    if not account.api_key_sealed:
        return None
    return sealing.open_sealed(account.api_key_sealed, keys)[-4:]
