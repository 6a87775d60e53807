"""The only module that talks to Stripe (or the offline sandbox), always through the SDK."""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote

from flask import current_app, has_request_context
from stripe import RequestsClient, StripeClient, StripeError

from portal import sealing
from portal.models import ConnectMethod, SessionStatus, StripeAccount
from portal.services.stripe_profiles import profile

# Stripe answers in well under a second; these bound how long a hung Stripe holds a caller.
# A worker waits up to 30 s a try, and the SDK's retry loop tries a connection error or a
# 409/5xx answer again, twice at most, after a short backoff (a POST is resent with the
# Idempotency-Key of its first attempt). A web request, where a person waits and a server
# thread is held, waits 10 s once: the page then says Stripe could not be reached.
TIMEOUT_SECONDS = 30
NETWORK_RETRIES = 2
INTERACTIVE_TIMEOUT_SECONDS = 10
INTERACTIVE_RETRIES = 0


class GatewayError(RuntimeError):
    """Stripe cannot be called as configured; the message names the setting to fix."""


def _client(api_key: str, account_id: str | None = None) -> StripeClient:
    config = current_app.config
    return _cached_client(
        api_key,
        account_id,
        config["STRIPE_CLIENT_ID"] or None,
        config["STRIPE_API_BASE"],
        config["STRIPE_CONNECT_BASE"],
        has_request_context(),  # a page or form is waiting: fail fast
    )


@lru_cache(maxsize=512)
def _cached_client(
    api_key: str,
    account_id: str | None,
    client_id: str | None,
    api_base: str,
    connect_base: str,
    interactive: bool,
) -> StripeClient:
    """One client per key, account and patience in each process, over the transports below."""
    return StripeClient(
        api_key,
        stripe_account=account_id,
        client_id=client_id,
        base_addresses={"api": api_base, "connect": connect_base},
        max_network_retries=INTERACTIVE_RETRIES if interactive else NETWORK_RETRIES,
        http_client=_http_client(INTERACTIVE_TIMEOUT_SECONDS if interactive else TIMEOUT_SECONDS),
    )


@lru_cache(maxsize=2)
def _http_client(timeout: float) -> RequestsClient:
    """The SDK's own transport over `requests`, shared by every client in the process. It makes
    each thread its own requests Session, so a worker's connections stay alive from call to call
    (we pass no session: the SDK would share one among all threads). Certificates are checked
    against the SDK's bundle. requests reads HTTPS_PROXY, HTTP_PROXY and NO_PROXY itself on
    each call; `proxy=` stays unset: the SDK would send it with every request, NO_PROXY or not."""
    return RequestsClient(timeout=timeout)


def _platform_key(livemode: bool = True) -> str:
    name = "STRIPE_SECRET_KEY" if livemode else "STRIPE_TEST_SECRET_KEY"
    key = current_app.config[name]
    if not key:
        raise GatewayError(
            f"{name} is not set: the platform cannot call Stripe"
            + ("" if livemode else " about test-mode sessions")
        )
    return key


def platform_client() -> StripeClient:
    """A client acting as the platform itself."""
    return _client(_platform_key())


def account_client(account: StripeAccount, livemode: bool = True) -> StripeClient:
    """A client acting as the merchant's connected account: the platform key of the session's
    mode plus the account header for Connect, or the merchant's own key in direct mode."""
    if account.method == ConnectMethod.DIRECT:
        return _client(
            sealing.open_sealed(account.api_key_sealed, current_app.config["ENCRYPTION_KEY"])
        )
    return _client(_platform_key(livemode), account.account_id)


def is_live_key(api_key: str) -> bool:
    return api_key.startswith(("sk_live_", "rk_live_"))


def retrieve_account(account_id: str) -> dict:
    """The account as the platform sees it (stripe_profiles.profile); StripeError if unknown."""
    return profile(platform_client().v1.accounts.retrieve(account_id).to_dict())


def retrieve_own_account(api_key: str) -> dict:
    """The account a merchant's own key belongs to (stripe_profiles.profile), read with that
    key: one read call that also proves the key works. StripeError if Stripe refuses it (401:
    unknown or revoked key, AuthenticationError; 403: the restricted key may not read it)."""
    return profile(_client(api_key).v1.accounts.retrieve_current().to_dict())


def create_standard_account(params: dict) -> str:
    """A new Standard account created by the platform (the demo's, in the sandbox); its id."""
    return platform_client().v1.accounts.create({"type": "standard", **params}).id


def add_catalog_if_none(account: StripeAccount, products: tuple, coupon: dict) -> None:
    """For an account that has no price yet: one US-dollar price per (name, amount in cents)
    of `products`, and the coupon of `coupon`'s parameters."""
    client = account_client(account)
    if client.v1.prices.list({"limit": 1}).data:
        return
    for name, cents in products:
        price = {"currency": "usd", "unit_amount": cents, "product_data": {"name": name}}
        client.v1.prices.create(price)
    client.v1.coupons.create(coupon)


def authorize_url(state: str, redirect_uri: str) -> str:
    """Where to send the owner to connect a Standard account with Connect OAuth."""
    return _oauth_client().oauth.authorize_url(
        {
            "response_type": "code",
            "scope": "read_write",
            "state": state,
            "redirect_uri": redirect_uri,
        }
    )


def exchange_code(code: str) -> tuple[str, bool]:
    """(stripe_user_id, livemode) for an authorization code; StripeError (invalid_grant for a
    used, expired or unknown code) when Stripe refuses it. Codes work once."""
    token = _oauth_client().oauth.token({"grant_type": "authorization_code", "code": code})
    return token.stripe_user_id, bool(token.livemode)


def deauthorize(account_id: str) -> None:
    """Revoke the platform's access to the account; StripeError if Stripe refuses."""
    _oauth_client().oauth.deauthorize({"stripe_user_id": account_id})


def _oauth_client() -> StripeClient:
    if not current_app.config["STRIPE_CLIENT_ID"]:
        raise GatewayError("STRIPE_CLIENT_ID is not set: Connect OAuth is not available")
    return platform_client()


def later_session_status(
    account: StripeAccount,
    session_id: str,
    created: int,
    customer: str | None,
    email: str | None,
    livemode: bool = True,
) -> str | None:
    """The most telling status among the shopper's sessions created after this one (same
    customer or same email, any status): "complete", else "open"/"expired", else None."""
    client = account_client(account, livemode)
    found = set()
    # A customer is a Customer (cus_...) or, with Accounts v2, an Account (acct_...): Stripe
    # filters each by its own parameter.
    by = "customer_account" if customer and customer.startswith("acct_") else "customer"
    queries = ([{by: customer}] if customer else []) + (
        [{"customer_details": {"email": email}}] if email else []
    )
    for query in queries:
        page = _get(client, "/v1/checkout/sessions", **query, created={"gte": created}, limit=100)
        found |= {s["status"] for s in _after(page["data"], session_id, created)}
    # A payment outranks an open checkout, which outranks one that expired.
    ranked = (SessionStatus.COMPLETE, SessionStatus.OPEN, SessionStatus.EXPIRED)
    return next((status for status in ranked if status in found), None)


def _after(listed: list, session_id: str, created: int) -> list:
    """Sessions listed before this one: Stripe lists newest first, in creation order even
    within a second. If this one is not listed, a session of the same second counts as later
    (erring on the side of not emailing)."""
    ids = [s["id"] for s in listed]
    if session_id in ids:
        return listed[: ids.index(session_id)]
    return [s for s in listed if s["created"] >= created]


def line_items(account: StripeAccount, session_id: str, livemode: bool = True) -> list[dict]:
    """The cart: [{"name", "quantity", "amount", "currency", "image_url"}] in Stripe's order."""
    page = _get(
        account_client(account, livemode),
        f"/v1/checkout/sessions/{quote(session_id, safe='')}/line_items",
        limit=100,
        expand=["data.price.product"],
    )
    return [_line_item(item) for item in page["data"]]


# Stripe's answers that turn a call down for good, until the merchant acts: as words for a trace.
REFUSALS = {401: "key_refused", 403: "permission_missing", 404: "not_found"}


def refusal(error: Exception) -> str | None:
    """Why Stripe turned a call down, when it answered ("key_refused", "permission_missing",
    "not_found"); None when it did not answer, failed on its side, or was not called."""
    return REFUSALS.get(getattr(error, "http_status", None))


def session_and_cart(
    account: StripeAccount, session_id: str, livemode: bool = True
) -> tuple[dict, list[dict]]:
    """Stripe's own copy of the session and its cart (as `line_items` gives it), in one call
    with the items expanded; a second call only for a cart longer than the expanded list."""
    body = _get(
        account_client(account, livemode),
        f"/v1/checkout/sessions/{quote(session_id, safe='')}",
        expand=["line_items", "line_items.data.price.product"],
    )
    listed = body.get("line_items")
    if not isinstance(listed, dict) or listed.get("has_more") or "data" not in listed:
        return body, line_items(account, session_id, livemode)
    return body, [_line_item(item) for item in listed["data"]]


def _line_item(item: dict) -> dict:
    product = (item.get("price") or {}).get("product")
    product = product if isinstance(product, dict) else {}  # not expanded: an id, no details
    images = product.get("images") or []
    name = product.get("name") or item.get("description") or "Item"
    return {
        "name": name,
        "quantity": item.get("quantity") or 1,
        "amount": item.get("amount_total"),
        "currency": item.get("currency"),
        "image_url": images[0] if images else None,
    }


def knows_event(account: StripeAccount, event_id: str) -> bool | None:
    """Whether Stripe holds the event for the account: None when it will not say (no answer,
    or a key that may not read events)."""
    try:
        return bool(_get(account_client(account), f"/v1/events/{quote(event_id, safe='')}"))
    except StripeError as exc:
        return False if refusal(exc) == "not_found" else None


def event_ids(
    account: StripeAccount, types: list[str], since: int, until: int
) -> list[str] | None:
    """The ids of the account's latest events (at most 100) of `types` created between the
    Unix times `since` and `until`; None when Stripe will not say."""
    params = {"types": types, "created": {"gte": since, "lte": until}, "limit": 100}
    try:
        return [e["id"] for e in _get(account_client(account), "/v1/events", **params)["data"]]
    except StripeError:
        return None


def _get(client: StripeClient, path: str, **params) -> dict:
    """Stripe's JSON answer to a GET as plain dicts (building the SDK's objects cost more than
    the call); errors raise StripeError like every other call."""
    return client.raw_request("get", path, **params).data


def create_promotion_code(
    account: StripeAccount, coupon_id: str, expires_at: int, code: str
) -> str:
    """A single-use customer-facing code for the merchant's coupon, dead at `expires_at`."""
    created = account_client(account).v1.promotion_codes.create(
        {
            "promotion": {"type": "coupon", "coupon": coupon_id},
            "code": code,
            "max_redemptions": 1,
            "expires_at": expires_at,
        }
    )
    return created.code


def list_coupons(account: StripeAccount) -> list[dict]:
    """The merchant's usable coupons, newest first: {"id", "name", "percent_off", "amount_off",
    "currency"} each (at most 100: a merchant picks one for its promotion codes)."""
    page = _get(account_client(account), "/v1/coupons", limit=100)
    fields = ("id", "name", "percent_off", "amount_off", "currency")
    return [{name: c.get(name) for name in fields} for c in page["data"] if c.get("valid", True)]
