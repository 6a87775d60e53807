"""A tiny shop per account, so a person can start a checkout in a browser without writing code:
pick products, check out (live session, consent collected, recovery on), and expire it on demand."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from . import checkout, lifecycle
from .auth import Caller, store
from .errors import StripeError, no_such
from .params import Params

bp = Blueprint("shop", __name__)
RECENT_SESSIONS = 10


def _account(account_id: str) -> dict:
    record = store().find(account_id)
    if record is None or record.kind != "account" or account_id == store().platform_id:
        raise no_such("account", account_id)
    return record.obj


def _shop_caller(account_id: str) -> Caller:
    return Caller(account=account_id, livemode=True, platform=False, via_connect=False, key="")


@bp.get("/shop/<account_id>")
def shop(account_id: str):
    account = _account(account_id)
    prices = [r.obj for r in store().all("price", account_id, livemode=True) if r.obj["active"]]
    products = {r.obj["id"]: r.obj for r in store().all("product", account_id)}
    sessions = [r.obj for r in store().all("checkout.session", account_id)][:RECENT_SESSIONS]
    return render_template(
        "shop.html",
        account=account,
        prices=prices,
        products=products,
        sessions=sessions,
        error=request.args.get("error"),
        paid=_paid(account_id, request.args.get("paid", "")),
    )


def _paid(account_id: str, session_id: str) -> str | None:
    """The session the shopper came back from, when it is this account's and complete: the
    success URL can be typed by anyone, so it thanks only for a checkout that was paid."""
    record = store().find(session_id) if session_id else None
    if record is None or record.kind != "checkout.session" or record.account != account_id:
        return None
    return session_id if record.obj.get("status") == "complete" else None


@bp.post("/shop/<account_id>/checkout")
def start_checkout(account_id: str):
    _account(account_id)
    items = [
        {"price": price_id, "quantity": request.form[f"qty-{price_id}"]}
        for price_id in request.form.getlist("price")
        if request.form.get(f"qty-{price_id}", "0") != "0"
    ]
    if not items:
        return redirect(
            url_for("shop.shop", account_id=account_id, error="Pick at least one product.")
        )
    back = url_for("shop.shop", account_id=account_id, _external=True)
    params = Params(
        {
            "mode": "payment",
            "line_items": items,
            "success_url": back + "?paid={CHECKOUT_SESSION_ID}",  # Stripe fills the id in
            "cancel_url": back,
            "consent_collection": {"promotions": "auto"},
            "after_expiration": {"recovery": {"enabled": "true", "allow_promotion_codes": "true"}},
        }
    )
    try:
        record = checkout.create_session(
            store(), current_app.config, _shop_caller(account_id), params
        )
    except StripeError as exc:
        return redirect(url_for("shop.shop", account_id=account_id, error=exc.message))
    return redirect(record.obj["url"])


@bp.post("/shop/<account_id>/expire/<session_id>")
def expire(account_id: str, session_id: str):
    record = store().find(session_id)
    if record is None or record.kind != "checkout.session" or record.account != account_id:
        raise no_such("checkout.session", session_id)
    if record.obj["status"] == "open":
        lifecycle.expire(store(), current_app.config, record)
    return redirect(url_for("shop.shop", account_id=account_id))
