"""Who is calling: the API key decides the account and the mode, `Stripe-Account` switches to a connected account."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from flask import current_app, g, request

from .errors import StripeError
from .params import Params, parse_pairs
from .state import Store, key_livemode


@dataclass(frozen=True)
class Caller:
    """The account whose data a request acts on, and how it got there."""

    account: str
    livemode: bool
    platform: bool
    via_connect: bool
    key: str


def store() -> Store:
    """The store of the running sandbox app."""
    return current_app.extensions["sandbox"].store


def request_params() -> Params:
    """Query and form parameters of this request, parsed once."""
    if "params" not in g:
        pairs = list(request.args.items(multi=True)) + list(request.form.items(multi=True))
        g.params = Params(parse_pairs(pairs))
    return g.params


def _presented_key() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip() or None
    if scheme.lower() == "basic":
        # curl -u sk_...: sends the key as the Basic user name.
        try:
            return base64.b64decode(value).decode().partition(":")[0] or None
        except (binascii.Error, UnicodeDecodeError):
            return None
    return None


def _masked(key: str) -> str:
    return key[:8] + "*" * 12 + key[-4:] if len(key) > 12 else "*" * len(key)


def authenticate() -> Caller:
    """The caller for this request; 401/403 in Stripe's shape when the key cannot act."""
    key = _presented_key()
    if not key:
        raise StripeError(
            401,
            "You did not provide an API key. You need to provide your API key "
            "in the Authorization header, using Bearer auth (e.g. 'Authorization: "
            "Bearer YOUR_SECRET_KEY').",
        )
    the_store = store()
    owner = the_store.owner_of_key(key)
    if owner is None:
        raise StripeError(401, f"Invalid API Key provided: {_masked(key)}", code="api_key_invalid")
    target = request.headers.get("Stripe-Account", "").strip() or None
    return _switch(the_store, key, owner, target)


def _switch(the_store: Store, key: str, owner: str, target: str | None) -> Caller:
    livemode, is_platform = key_livemode(key), owner == the_store.platform_id
    if target is None or target == owner:
        return Caller(owner, livemode, is_platform, False, key)
    if not is_platform:
        raise StripeError(
            400,
            "Only Stripe Connect platforms can work with other accounts.",
            code="account_invalid",
        )
    if target not in the_store.connected:
        raise StripeError(
            403,
            f"The provided key '{_masked(key)}' does not have access to "
            f"account '{target}' (or that account does not exist). Application "
            "access may have been revoked.",
            code="account_invalid",
            type_="invalid_request_error",
        )
    return Caller(target, livemode, False, True, key)


def require_platform(caller: Caller) -> None:
    """Only the platform itself (no Stripe-Account) may do this."""
    if not caller.platform:
        raise StripeError(
            403,
            "This request can only be made by the platform account.",
            type_="invalid_request_error",
            code="platform_api_key_required",
        )
