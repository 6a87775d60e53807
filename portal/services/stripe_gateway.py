"""The only module that talks to Stripe (or the offline sandbox), always through the SDK."""
from __future__ import annotations

from flask import current_app
from stripe import StripeClient, StripeError

from portal.models import StripeAccount
from portal.services import secrets

__all__ = ["GatewayError", "StripeError", "account_client", "platform_client", "retrieve_account"]


class GatewayError(RuntimeError):
    """Stripe cannot be called as configured; the message names the setting to fix."""


def _client(api_key: str, account_id: str | None = None) -> StripeClient:
    config = current_app.config
    return StripeClient(
        api_key,
        stripe_account=account_id,
        client_id=config["STRIPE_CLIENT_ID"] or None,
        base_addresses={"api": config["STRIPE_API_BASE"], "connect": config["STRIPE_CONNECT_BASE"]},
        max_network_retries=2,
    )


def _platform_key() -> str:
    key = current_app.config["STRIPE_SECRET_KEY"]
    if not key:
        raise GatewayError("STRIPE_SECRET_KEY is not set: the platform cannot call Stripe")
    return key


def platform_client() -> StripeClient:
    """A client acting as the platform itself."""
    return _client(_platform_key())


def account_client(account: StripeAccount) -> StripeClient:
    """A client acting as the merchant's connected account: the platform key plus the account
    header for Connect, or the merchant's own key in direct mode."""
    if account.method == "direct":
        return _client(secrets.open_sealed(account.api_key_sealed, current_app.config["ENCRYPTION_KEY"]))
    return _client(_platform_key(), account.account_id)


def is_live_key(api_key: str) -> bool:
    return api_key.startswith(("sk_live_", "rk_live_"))


def retrieve_account(account_id: str) -> dict:
    """The account as the platform sees it: {"id", "name", "email"}; StripeError if unknown."""
    account = platform_client().v1.accounts.retrieve(account_id)
    profile = account.business_profile
    name = (profile.name if profile else None) or account.id
    return {"id": account.id, "name": name, "email": account.email}
