"""The sandbox's stand-in for the parts of Stripe's Dashboard a self-hoster needs to try direct
mode (an API key and a webhook endpoint, no Connect): a new account with a few products, and a
webhook endpoint with its signing secret; and, for every account, a coupon for the portal's
promotion codes. Pages only; the API stays as Stripe's."""

from __future__ import annotations

from flask import Blueprint, redirect, request, url_for

from . import catalog
from .auth import Caller, store
from .errors import StripeError, no_such
from .params import Params

bp = Blueprint("sandbox_dashboard", __name__)
# What a new account's shop sells, so that a checkout can start at once.
SAMPLE_PRODUCTS = (("Ceramic mug", 1800), ("Pour-over kettle", 4900), ("Paper filters", 600))


@bp.post("/_sandbox/accounts/new")
def new_account():
    """A Standard account not connected to the platform, with live products: its keys and a
    webhook endpoint are what the portal's direct mode asks for."""
    name = (request.form.get("name") or "").strip()[:100] or "Direct shop"
    record = store().create_account(name, None, connect=False)
    account_id = record.obj["id"]
    caller = Caller(account=account_id, livemode=True, platform=False, via_connect=False, key="")
    for product, amount in SAMPLE_PRODUCTS:
        params = {"currency": "usd", "unit_amount": str(amount), "product_data": {"name": product}}
        catalog.create_price(store(), caller, Params(params))
    return redirect(url_for("sandbox_pages.account_page", account_id=account_id), code=303)


@bp.post("/_sandbox/accounts/<account_id>/webhook_endpoints")
def new_endpoint(account_id: str):
    """An endpoint for every event of the account, in live or test mode, as Stripe's Dashboard
    adds one; its signing secret is then shown on the account's page."""
    _account(account_id)
    url = (request.form.get("url") or "").strip()
    if not url.startswith(("http://", "https://")):
        return _back(account_id, "Invalid URL: must start with http:// or https://.")
    livemode = request.form.get("mode", "live") != "test"
    store().add_webhook_endpoint(
        account_id, url, livemode=livemode, connect=False, enabled_events=["*"]
    )
    return _back(account_id)


@bp.post("/_sandbox/accounts/<account_id>/coupons")
def new_coupon(account_id: str):
    """A live coupon of the percentage typed (once per customer), as Stripe's Dashboard makes
    one: the portal's Settings then offers it for promotion codes."""
    _account(account_id)
    caller = Caller(account=account_id, livemode=True, platform=False, via_connect=False, key="")
    percent = (request.form.get("percent_off") or "").strip()
    params = {"percent_off": percent, "duration": "once"}
    if name := (request.form.get("name") or "").strip()[:40]:
        params["name"] = name
    try:
        catalog.create_coupon(store(), caller, Params(params))
    except StripeError as exc:
        return _back(account_id, f"No coupon was made: {exc.message}")
    return _back(account_id)


def _back(account_id: str, error: str | None = None):
    """The account's page again, saying what went wrong (a page's form, not the API)."""
    target = url_for("sandbox_pages.account_page", account_id=account_id, error=error)
    return redirect(target, code=303)


def _account(account_id: str) -> None:
    record = store().find(account_id)
    if record is None or record.kind != "account" or account_id == store().platform_id:
        raise no_such("account", account_id)


def coupons_of(account_id: str) -> list[dict]:
    """The account's live coupons, newest first."""
    return [
        {"id": r.obj["id"], "name": r.obj["name"], "percent_off": r.obj["percent_off"]}
        for r in store().all("coupon", account_id, livemode=True)
    ]


def endpoints_of(account_id: str) -> list[dict]:
    """The account's own webhook endpoints with their signing secrets, newest first."""
    return [
        {"url": r.obj["url"], "livemode": r.obj["livemode"], "secret": r.extra["secret"]}
        for r in store().all("webhook_endpoint", account_id)
    ]
