"""Connect OAuth for Standard accounts: authorize page, token exchange, deauthorize."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, current_app, jsonify, redirect, render_template, request

from .auth import Caller, _presented_key, store
from .catalog import create_price
from .events import emit
from .params import Params
from .state import key_livemode, new_id

bp = Blueprint("oauth", __name__, url_prefix="/oauth")


class OAuthError(Exception):
    """An OAuth failure rendered as `{"error": ..., "error_description": ...}`."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


@bp.errorhandler(OAuthError)
def _oauth_error(exc: OAuthError):
    return jsonify({"error": exc.error, "error_description": exc.description}), exc.status


def _page_error(message: str, status: int = 400):
    return render_template("message.html", title="Connect error", message=message), status


def _with_query(url: str, **params) -> str:
    joiner = "&" if urlsplit(url).query else "?"
    return url + joiner + urlencode({k: v for k, v in params.items() if v is not None})


def _authorize_args(source) -> tuple[dict, str | None]:
    args = {
        k: source.get(k) for k in ("client_id", "state", "redirect_uri", "scope", "response_type")
    }
    args["scope"] = args["scope"] or "read_write"
    if args["client_id"] != current_app.config["CLIENT_ID"]:
        return args, f"No such application: '{args['client_id']}'."
    if (args["response_type"] or "code") != "code" or args["scope"] not in (
        "read_write",
        "read_only",
    ):
        return args, "Invalid response_type or scope."
    if args["redirect_uri"] and not args["redirect_uri"].startswith(("http://", "https://")):
        return args, "Invalid redirect_uri."
    return args, None


@bp.get("/authorize")
def authorize_page():
    args, problem = _authorize_args(request.args)
    if problem:
        return _page_error(problem)
    return render_template(
        "oauth_authorize.html",
        args=args,
        accounts=store().accounts(),
        platform_name=current_app.config["PLATFORM_NAME"],
    )


# What "add sample products" puts in a new account's shop (live and test mode alike).
SAMPLE_PRODUCTS = (("Linen tote bag", 2800), ("Hand-thrown mug", 3400), ("Beeswax candle", 1900))


def _chosen_account() -> str | None:
    with store().lock:
        if request.form.get("account") == "new":
            name = request.form.get("business_name", "").strip() or "New sandbox business"
            email = request.form.get("email", "").strip() or None
            account_id = store().create_account(name, email, connect=False).obj["id"]
            if request.form.get("sample_products"):
                _add_sample_products(account_id)
            return account_id
        record = store().find(request.form.get("account", ""))
        return record.obj["id"] if record is not None and record.kind == "account" else None


def _add_sample_products(account_id: str) -> None:
    """A few priced products, so that the new account's shop has something to abandon."""
    for livemode in (True, False):
        caller = Caller(account_id, livemode, False, False, "")
        for name, amount in SAMPLE_PRODUCTS:
            params = Params(
                {"currency": "usd", "unit_amount": str(amount), "product_data": {"name": name}}
            )
            create_price(store(), caller, params)


@bp.post("/authorize")
def authorize_submit():
    args, problem = _authorize_args(request.form)
    if problem:
        return _page_error(problem)
    target = args["redirect_uri"]
    if request.form.get("decision") == "deny":
        return _finish(
            target,
            error="access_denied",
            error_description="The user denied your request",
            state=args["state"],
        )
    account_id = _chosen_account()
    if account_id is None or account_id == store().platform_id:
        return _page_error("Pick an account or create a new one.")
    code = new_id("ac_", 32)
    store().oauth_codes[code] = {"account": account_id, "scope": args["scope"], "used": False}
    return _finish(target, code=code, scope=args["scope"], state=args["state"])


def _finish(target: str | None, **params) -> Response:
    if target:
        return redirect(_with_query(target, **params), code=302)
    return render_template(
        "message.html",
        title="Authorization result",
        message=", ".join(f"{k}={v}" for k, v in params.items() if v),
    )


def _platform_livemode() -> bool:
    key = _presented_key() or request.form.get("client_secret")
    if not key or store().owner_of_key(key) != store().platform_id:
        raise OAuthError("invalid_client", "No valid platform API key was provided.", 401)
    return key_livemode(key)


def _token_response(account_id: str, scope: str, livemode: bool, refresh: str) -> Response:
    keys = store().find(account_id).extra["keys"]
    return jsonify(
        {
            "access_token": keys["sk_live" if livemode else "sk_test"],
            "livemode": livemode,
            "refresh_token": refresh,
            "scope": scope,
            "stripe_publishable_key": store().publishable_key(account_id, livemode),
            "stripe_user_id": account_id,
            "token_type": "bearer",
        }
    )


def _redeem_code(code: str | None, livemode: bool) -> Response:
    grant = store().oauth_codes.get(code or "")
    if grant is None or not code.startswith("ac_"):
        raise OAuthError("invalid_grant", f"Authorization code does not exist: {code}")
    if grant["used"]:
        raise OAuthError(
            "invalid_grant",
            "This authorization code has already been used. "
            "All tokens issued with this code have been revoked.",
        )
    grant["used"] = True
    store().connected.add(grant["account"])
    refresh = new_id("rt_", 32)
    store().oauth_codes[refresh] = {
        "account": grant["account"],
        "scope": grant["scope"],
        "used": False,
    }
    emit(
        store(),
        grant["account"],
        livemode,
        "account.application.authorized",
        _application(),
        connect_only=True,
    )
    return _token_response(grant["account"], grant["scope"], livemode, refresh)


@bp.post("/token")
def token():
    livemode = _platform_livemode()
    grant_type = request.form.get("grant_type")
    with store().lock:
        if grant_type == "authorization_code":
            return _redeem_code(request.form.get("code"), livemode)
        if grant_type == "refresh_token":
            refresh = request.form.get("refresh_token", "")
            grant = store().oauth_codes.get(refresh) if refresh.startswith("rt_") else None
            if grant is None or grant["account"] not in store().connected:
                raise OAuthError("invalid_grant", f"Invalid refresh token: {refresh}")
            return _token_response(grant["account"], grant["scope"], livemode, refresh)
    raise OAuthError("unsupported_grant_type", f"Unsupported grant type: {grant_type}")


def _application() -> dict:
    return {
        "id": current_app.config["CLIENT_ID"],
        "object": "application",
        "name": current_app.config["PLATFORM_NAME"],
    }


@bp.post("/deauthorize")
def deauthorize():
    livemode = _platform_livemode()
    client_id, account_id = request.form.get("client_id"), request.form.get("stripe_user_id")
    if client_id != current_app.config["CLIENT_ID"]:
        raise OAuthError("invalid_client", f"No such application: '{client_id}'", 401)
    with store().lock:
        if account_id not in store().connected:
            raise OAuthError(
                "invalid_client",
                f"This application is not connected to stripe "
                f"account {account_id}, or that account does not exist.",
            )
        emit(
            store(),
            account_id,
            livemode,
            "account.application.deauthorized",
            _application(),
            connect_only=True,
        )
        store().connected.discard(account_id)
    return jsonify({"stripe_user_id": account_id})
