"""Connecting the merchant's Stripe account: Connect OAuth (Standard accounts), disconnecting,
and direct mode for self-hosters (their own restricted key and webhook signing secret). The
owner connects and disconnects; members see the state."""

from __future__ import annotations

import hmac
import re
import secrets
import time

from flask import Blueprint, current_app, flash, redirect, render_template, request
from flask import session, url_for
from flask_login import current_user, login_required

import stripe  # for its error classes only: every call goes through stripe_gateway
from portal import db
from portal.models import ConnectMethod
from portal.services import connections, onboarding, stripe_gateway, webhook_health
from portal.services import webhooks
from portal.services.stripe_gateway import GatewayError, StripeError
from portal.tenancy import current_merchant, owner_required
from portal.web.connect_words import EVENT_WORDS, METHOD_WORDS, OAUTH_ERRORS, PERMISSIONS
from portal.web.direct_form import DirectForm, SecretForm

bp = Blueprint("connect", __name__, url_prefix="/connect")

STATE_KEY = "connect_oauth"  # in the signed session cookie: {"state", "user", "expires"}
STATE_SECONDS = 15 * 60


def _page(
    form: DirectForm | None = None, status: int = 200, secret_form=None, unchecked: str = ""
):
    merchant = current_merchant()
    account = merchant.stripe_account
    connected = account is not None and account.is_connected
    hint = None
    if connected and account.method == ConnectMethod.DIRECT:
        hint = connections.key_hint(account, current_app.config["ENCRYPTION_KEY"])
    owner_form = form or DirectForm(formdata=None)
    return render_template(
        "connect/index.html",
        account=account,
        connected=connected,
        key_hint=hint,
        health=webhook_health.health(account) if connected else None,
        unchecked=unchecked,
        event_words=EVENT_WORDS,
        secret_form=(secret_form or SecretForm(formdata=None)) if current_user.is_owner else None,
        form=owner_form if current_user.is_owner else None,
        webhook_url=f"{_public_url()}/webhooks/stripe/direct/{merchant.id}",
        events=webhooks.DIRECT_TYPES,
        permissions=PERMISSIONS,
        method_words=METHOD_WORDS,
        direct=ConnectMethod.DIRECT,
        next_step=onboarding.next_step(merchant) if connected else None,
    ), status


def _public_url() -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/")


@bp.get("")
@login_required
def index():
    return _page()


@bp.post("/oauth")
@owner_required
def start():
    if refused := _already_connected():
        return refused
    state = secrets.token_urlsafe(32)
    try:
        target = stripe_gateway.authorize_url(state, f"{_public_url()}/connect/callback")
    except GatewayError as exc:
        flash(f"Stripe Connect is not set up on this portal: {exc}.", "error")
        return redirect(url_for("connect.index"))
    session[STATE_KEY] = {
        "state": state,
        "user": current_user.id,
        "expires": int(time.time()) + STATE_SECONDS,
    }
    return redirect(target)


def _state_problem(given: str) -> str | None:
    """Why the callback cannot be trusted (None: it answers this session's own, fresh request).
    The stored state is used up whatever the answer, so a callback works at most once."""
    stored = session.pop(STATE_KEY, None)
    again = "Nothing was saved. Please press “Connect with Stripe” again."
    if not isinstance(stored, dict) or not given:
        return f"This answer from Stripe does not match a connection started here. {again}"
    same = hmac.compare_digest(str(stored.get("state")).encode(), given.encode())
    if not same or stored.get("user") != current_user.id:
        return f"This answer from Stripe does not match a connection started here. {again}"
    if stored.get("expires", 0) < time.time():
        return f"Connecting took longer than 15 minutes, so this answer has expired. {again}"
    return None


def _already_connected():
    """A refusal when an account is connected (a request from a tab opened before): the page
    then offers only Disconnect, and a key's account the signing secret's replacement. None
    when no account is connected."""
    account = connections.connected_account(current_merchant())
    if account is None:
        return None
    secret = ""
    if account.method == ConnectMethod.DIRECT:
        secret = " To give a new webhook signing secret, use “Replace the signing secret”."
    return _refused(
        f"Stripe is already connected ({account.display_name or account.account_id}): nothing "
        f"was changed. To connect another account or key, disconnect this one first.{secret}"
    )


def _refused(message: str):
    flash(message, "error")
    return redirect(url_for("connect.index"))


@bp.get("/callback")
@db.writes_on_get
@owner_required
def callback():
    # Stripe's own words are shown only with this session's state: anyone can craft a link.
    if problem := _state_problem(request.args.get("state", "")):
        return _refused(problem)
    if refused := _already_connected():  # connected meanwhile, in another tab
        return refused
    if "error" in request.args:
        if request.args["error"] == "access_denied":  # Stripe's words add nothing to these
            return _refused("You cancelled connecting Stripe. Nothing was saved.")
        return _refused(
            f"Stripe could not connect your account{_oauth_error_words()} Nothing was saved."
        )
    if not request.args.get("code"):
        return _refused("Stripe sent no authorization code. Nothing was saved.")
    return _connect_oauth(request.args["code"])


def _oauth_error_words() -> str:
    """What Stripe's error code means, in the portal's own words (Stripe's description is not
    shown: it reads as from Stripe but rides in a link); an unknown code is named, if it looks
    like one."""
    code = request.args["error"]
    if code in OAUTH_ERRORS:
        return f": {OAUTH_ERRORS[code]}"
    return f" (Stripe's error code: {code})." if re.fullmatch(r"[a-z_]{1,50}", code) else "."


def _connect_oauth(code: str):
    try:
        name, taken = connections.connect_oauth(current_merchant().id, code)
    except (StripeError, GatewayError) as exc:
        return _refused(f"Stripe did not connect your account: {_reason(exc)} Nothing was saved.")
    except connections.LinkError as exc:
        return _refused(f"{exc} Nothing was saved.")
    flash(f"Stripe is connected: {name}. {taken}".strip(), "success")
    return redirect(url_for("connect.index"))


def _reason(exc: Exception) -> str:
    """What went wrong, for the person: Stripe's own words when it answered."""
    if isinstance(exc, stripe.APIConnectionError):
        return "Stripe could not be reached."
    text = str(getattr(exc, "user_message", None) or exc).strip()
    text = re.sub(r"^Request req_\w+: ", "", text)  # the SDK's prefix names its request id
    if re.search(r"<(!doctype|html)", text, re.IGNORECASE):  # a proxy's or server's error page
        return "Stripe answered with an error page instead of its API's answer."
    return (text[:300].rstrip(".") + ".") if text else "Stripe refused."


@bp.post("/disconnect")
@owner_required
def disconnect():
    done = connections.disconnect_and_revoke(current_merchant())
    if done is None:
        return _refused("No Stripe account is connected.")
    if done.method == ConnectMethod.DIRECT:
        flash(
            "Stripe is disconnected and your key is forgotten. To finish, delete the webhook "
            "endpoint and the restricted key in your Stripe Dashboard.",
            "success",
        )
    elif done.refused is not None:
        flash(
            "Disconnected here: no email goes out for this account any more. Stripe did not "
            f"confirm ({_reason(done.refused)}) To revoke access there too, remove the portal "
            "under Settings → Connected apps in your Stripe Dashboard.",
            "error",
        )
    else:
        flash("Stripe is disconnected: the portal can no longer reach your account.", "success")
    return redirect(url_for("connect.index"))


@bp.post("/direct")
@owner_required
def direct():
    if refused := _already_connected():
        return refused
    form = DirectForm()
    if not form.validate_on_submit():
        return _page(form, 400)
    key = form.api_key.data
    db.session.rollback()  # no transaction stays open across the call to Stripe
    try:
        profile = stripe_gateway.retrieve_own_account(key)
    except (stripe.AuthenticationError, stripe.PermissionError) as exc:
        _key_refused(form, exc)
        return _page(form, 400)
    except (StripeError, GatewayError) as exc:  # nothing wrong with what was typed
        return _page(form, 503, unchecked=f"The key could not be checked: {_reason(exc)}")
    return _save_direct(form, profile)


def _key_refused(form: DirectForm, exc: Exception) -> None:
    """Say beside the key field why Stripe would not take it."""
    if isinstance(exc, stripe.AuthenticationError):
        message = "Stripe does not know this key: check that it is complete and not revoked."
    else:
        message = "This key may not read your account's details: allow it as listed below."
    form.api_key.errors = [*form.api_key.errors, message]


def _save_direct(form: DirectForm, profile: dict):
    key = form.api_key.data
    try:
        taken = connections.link_and_commit(
            current_merchant().id,
            profile,
            livemode=stripe_gateway.is_live_key(key),
            method=ConnectMethod.DIRECT,
            api_key=key,
            webhook_secret=form.webhook_secret.data,
            keys=current_app.config["ENCRYPTION_KEY"],
        )
    except connections.LinkError as exc:
        form.api_key.errors = [*form.api_key.errors, f"{exc} Nothing was saved."]
        return _page(form, 400)
    flash(f"Stripe is connected with your own key: {profile['name']}. {taken}".strip(), "success")
    return redirect(url_for("connect.index"))


@bp.post("/webhook-secret")
@owner_required
def webhook_secret():
    """Replace a direct-mode endpoint's signing secret: what to do when Stripe's deliveries are
    refused, without disconnecting (which would stop every scheduled email)."""
    account = connections.connected_account(current_merchant())
    if account is None or account.method != ConnectMethod.DIRECT:
        return _refused("Only a Stripe account connected with your own key has a signing secret.")
    form = SecretForm()
    if not form.validate_on_submit():
        return _page(status=400, secret_form=form)
    webhook_health.replace_secret(
        account, form.webhook_secret.data, current_app.config["ENCRYPTION_KEY"]
    )
    db.session.commit()
    flash(
        "The new signing secret is saved: Stripe's next deliveries to your endpoint are checked "
        "with it. Stripe retries the refused ones for up to three days.",
        "success",
    )
    return redirect(url_for("connect.index") + "#webhooks")
