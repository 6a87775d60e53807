"""The hosted checkout page a shopper sees, and the recovery URL that rebuilds an expired cart."""

from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from . import lifecycle
from .auth import store
from .errors import StripeError

bp = Blueprint("checkout_pages", __name__)


def money(amount: int, currency: str) -> str:
    """`4800, "usd"` -> `48.00 USD` (two-decimal currencies only, enough for a sandbox)."""
    return f"{amount / 100:,.2f} {currency.upper()}"


def when(unix: int) -> str:
    """`1795412755` -> `2026-11-23 05:45 UTC`."""
    return datetime.fromtimestamp(unix, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _session_or_404(session_id: str):
    current_app.extensions["sandbox"].tick()
    record = store().find(session_id)
    if record is None or record.kind != "checkout.session":
        raise StripeError(404, "This checkout page does not exist.")
    return record


def _message(title: str, message: str, status: int = 200, link: str | None = None):
    return render_template("message.html", title=title, message=message, link=link), status


def _shopper_details(body: dict) -> dict:
    """What the shopper typed; on a recovered session, what they typed in the one it copies
    (the page is filled in again for them, as a shopper coming back would expect)."""
    if body["customer_details"]:
        return body["customer_details"]
    original = store().find(body["recovered_from"]) if body.get("recovered_from") else None
    return (original.obj["customer_details"] or {}) if original else {}


def _render(record, error: str | None = None, status: int = 200):
    body = record.obj
    if body["status"] == "complete":
        return _message("Payment complete", "Thanks! This checkout session is paid.")
    if body["status"] == "expired":
        return _message("Checkout expired", "This checkout session has expired.", 410)
    details = _shopper_details(body)
    email = details.get("email") or body["customer_email"] or ""
    consent = (body.get("consent") or {}).get("promotions")
    return render_template(
        "checkout.html",
        session=body,
        items=record.extra["line_items"],
        money=money,
        when=when,
        email=email,
        name=details.get("name") or "",
        collects=lifecycle.collects_promotions(body),
        consented=consent == "opt_in",
        error=error,
        saved=request.args.get("saved") == "1",
        merchant=store().find(record.account).obj,
    ), status


@bp.get("/c/pay/<session_id>")
def checkout_page(session_id: str):
    try:
        return _render(_session_or_404(session_id))
    except StripeError as exc:
        return _message("Not found", exc.message, exc.status)


def _success_target(body: dict) -> str:
    target = body["success_url"]
    if not target:
        return url_for("checkout_pages.checkout_page", session_id=body["id"])
    # Stripe substitutes this template variable in success URLs.
    return target.replace("{CHECKOUT_SESSION_ID}", body["id"])


def _submit(record) -> str:
    email = request.form.get("email", "").strip() or None
    name = request.form.get("name", "").strip() or None
    consent = request.form.get("promotions_consent") == "on"
    lifecycle.save_shopper(store(), record, email, consent, name)
    if request.form.get("action") == "pay":
        lifecycle.complete(store(), record)
        return _success_target(record.obj)
    return url_for("checkout_pages.checkout_page", session_id=record.obj["id"], saved=1)


@bp.post("/c/pay/<session_id>")
def checkout_submit(session_id: str):
    try:
        record = _session_or_404(session_id)
    except StripeError as exc:
        return _message("Not found", exc.message, exc.status)
    try:
        return redirect(_submit(record), code=303)
    except StripeError as exc:
        return _render(record, error=exc.message, status=exc.status)


@bp.get("/c/pay/<session_id>/leave")
def checkout_leave(session_id: str):
    try:
        body = _session_or_404(session_id).obj
    except StripeError as exc:
        return _message("Not found", exc.message, exc.status)
    if body["cancel_url"]:
        return redirect(body["cancel_url"], code=303)
    return _message(
        "You left the checkout",
        "Nothing was charged. The cart stays open until the session expires.",
    )


@bp.get("/c/recover/<token>")
def recover(token: str):
    current_app.extensions["sandbox"].tick()
    try:
        record = lifecycle.recover(store(), current_app.config, token)
    except StripeError as exc:
        return _message("Link unavailable", exc.message, exc.status)
    return redirect(url_for("checkout_pages.checkout_page", session_id=record.obj["id"]), code=303)
