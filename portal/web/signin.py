"""Starting a signed-in session, the one way every door uses it (log in, sign up, accepting an
invitation, resetting a password), and the password rule of every form that sets one."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Response, current_app, flash, redirect, render_template, request, session
from flask import url_for
from flask_login import login_user
from wtforms.validators import ValidationError

from portal import db
from portal.services import accounts, login_limits


def password_rule(form, field) -> None:
    """Every form's password rule (accounts.password_problem)."""
    if problem := accounts.password_problem(field.data or ""):
        raise ValidationError(problem)


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


SESSION_ENDED = "Your session had ended, so nothing was saved: log in, then send it again."


def sign_in_first():
    """The answer to a request that needs a signed-in session and has none. A page asked for
    leads to the login page, then back to it. A form posted from a session that ended (a log-out
    in another tab or browser) leads back to the page that holds the form (its address only
    takes posts), saying nothing was saved; posted by htmx, it gets words in place, so the page
    and what was typed in it stay."""
    posted = request.method not in ("GET", "HEAD")
    htmx = request.headers.get("HX-Request")
    if posted and htmx:
        return render_template("errors/csrf_fragment.html"), 400
    page = _own_page() if posted else request.full_path.rstrip("?")
    login = url_for("auth.login", next=page)
    if htmx:
        return Response(status=401, headers={"HX-Redirect": login})
    flash(SESSION_ENDED if posted else "Please log in to see that page.", "info")
    return redirect(login)


def _own_page() -> str | None:
    """The page a form was posted from (htmx names it; browsers send the Referer to us), when
    it is on this site; None otherwise."""
    page = request.headers.get("HX-Current-URL") or request.referrer
    parts = urlsplit(page or "")
    if parts.netloc != request.host or not parts.path.startswith("/"):
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")
