"""Starting a signed-in session, the one way every door uses it (log in, sign up, accepting an
invitation, resetting a password), and the password rule of every form that sets one."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app, flash, redirect, request, session, url_for
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


def sign_in_first(message: str = "Please log in to see that page."):
    """The answer to a request that needs a signed-in session and has none (it ended, or was
    never there): the login page, which then leads back to the page the person was on. A form's
    address only takes posts, so a post leads back to the page that holds the form; an htmx
    request sends the whole tab to the login page rather than swapping it into a fragment."""
    page = request.full_path.rstrip("?") if request.method == "GET" else _own_page()
    login = url_for("auth.login", next=page)
    if request.headers.get("HX-Request"):
        return Response(status=401, headers={"HX-Redirect": login})
    flash(message, "info")
    return redirect(login)


def _own_page() -> str | None:
    """The page a form was posted from (htmx names it; browsers send the Referer to us), when
    it is on this site; None otherwise."""
    page = request.headers.get("HX-Current-URL") or request.referrer
    parts = urlsplit(page or "")
    if parts.netloc != request.host or not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
