"""Starting a signed-in session, the one way every door uses it (log in, sign up, accepting an
invitation, resetting a password), and the password rule of every form that sets one."""

from __future__ import annotations

from flask import current_app, redirect, request, session
from flask_login import login_user
from wtforms.validators import Length

from portal import db
from portal.services import accounts, login_limits

PASSWORD_RULE = Length(min=10, max=256, message="Use 10 to 256 characters.")


def source() -> str:
    """Where the request comes from, for rate limits (the proxies' word when PROXY_COUNT > 0)."""
    return request.remote_addr or "unknown"


def signed_in(user, remember: bool, target: str):
    """Stamp the login, commit, give the browser a brand-new session (no fixation from before
    login), and mark it as a device this address logged in from (login_limits: floods do not
    refuse it)."""
    accounts.stamp_login(user)
    db.session.commit()
    session.clear()
    login_user(user, remember=remember)
    response = redirect(target)
    response.set_cookie(
        login_limits.DEVICE_COOKIE,
        login_limits.device_token(user),
        max_age=365 * 86400,
        httponly=True,
        samesite="Lax",
        secure=current_app.config["SESSION_COOKIE_SECURE"],
    )
    return response
