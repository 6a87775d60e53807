"""Blueprints, one module per area: parse -> call a service -> commit -> redirect."""

from __future__ import annotations

from importlib import import_module
from urllib.parse import unquote_to_bytes

from flask import Flask, current_app, has_request_context, render_template, request
from flask_login import current_user
from flask_wtf.csrf import CSRFError
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.routing import IntegerConverter

from portal import db
from portal.extensions import login_manager
from portal.web import filters, signin, webhooks

# The page areas, one blueprint (`bp`) per module of this package.
BLUEPRINTS = (
    "account",
    "auth",
    "carts",
    "connect",
    "dashboard",
    "domain",
    "dry_run",
    "editor",
    "health",
    "home",
    "invitations",
    "links",
    "outbox",
    "password",
    "payments",
    "settings",
    "subscriptions",
    "subscriptions_csv",
    "team",
    "terms",
)


class AsciiIntConverter(IntegerConverter):
    """`<int:name>`: ASCII digits alone. Werkzeug's \\d+ also matches other scripts' digits,
    which int() reads: /email/１ was /email/1 under another address."""

    regex = r"[0-9]+"


class IdConverter(AsciiIntConverter):
    """`<id:name>`: a row id, 1 to db.MAX_ID. Any other number matches no route (404) instead of
    reaching a query that the database would refuse as out of range."""

    def __init__(self, url_map) -> None:
        super().__init__(url_map, min=1, max=db.MAX_ID)


# How long a page waits for a row or table another transaction holds (a migration, a long
# write) before it answers 503: a browser, and a web worker, are never held for good. Jobs
# keep PostgreSQL's default (wait): their work is worth the wait.
LOCK_WAIT = "5s"


def _bounded_lock_wait(conn) -> None:
    if has_request_context():
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_WAIT}'")


def register(app: Flask) -> None:
    # Before any route that uses them is added.
    app.url_map.converters.update(int=AsciiIntConverter, id=IdConverter)
    if (engine := app.extensions["db_engine"]).dialect.name == "postgresql":
        event.listen(engine, "begin", _bounded_lock_wait)
    # "/account/" typed or linked with a slash (or "/carts" without) is the same page, not a 404.
    app.url_map.strict_slashes = False
    for name in BLUEPRINTS:
        app.register_blueprint(import_module(f"portal.web.{name}").bp)
    # Webhooks are answered beside Flask, not through it (see web/webhooks.py).
    app.wsgi_app = DispatcherMiddleware(
        app.wsgi_app, {webhooks.MOUNT: webhooks.WebhookReceiver(app)}
    )
    filters.register(app)
    login_manager.unauthorized_handler(signin.sign_in_first)
    # Before every other check (CSRF's among them): they read the form this one may refuse.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_undecodable_forms)
    app.before_request(_refuse_stray_files)
    app.before_request(_refuse_nul)
    app.after_request(_security_headers)
    _register_error_pages(app)


# The forms a visitor without a session fills in; every other one needs a signed-in session.
PUBLIC_FORMS = frozenset(
    {
        "auth.login",
        "auth.signup",
        "auth.logout",
        "password.forgot",
        "password.reset",
        "invitations.accept",
        "links.unsubscribe_page",
    }
)

# The one page that takes a file: it reads the body itself, after raising its size limit.
UPLOADS = frozenset({"subscriptions_csv.start"})


def _refuse_stray_files():
    """A form field sent as a file (no page of ours does that; a crafted request may) would
    reach validators written for text: refuse it in words, before any view runs."""
    if request.method != "POST" or request.mimetype != "multipart/form-data":
        return None
    if request.endpoint not in UPLOADS and request.files:
        return render_template("errors/stray_file.html"), 400
    return None


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _refuse_undecodable_forms():
    """Refuse, in words, a form whose text is not UTF-8: our pages declare UTF-8, so browsers
    send it, but a crafted request may not. Read on, it would be kept as "%FF", or read as an
    empty form (whose missing CSRF token would be blamed on an ended session)."""
    if request.method != "POST" or request.mimetype != FORM_TYPES[0]:
        return None
    body = request.get_data(cache=True)  # the form is parsed from this copy afterwards
    try:
        unquote_to_bytes(body).decode("utf-8")
    except UnicodeDecodeError:
        return render_template("errors/not_utf8.html"), 400
    return None


def _sent_as_form() -> bool:
    """Whether the body is a form that can be read (a multipart one needs its boundary)."""
    if request.mimetype == FORM_TYPES[1]:
        return bool(request.mimetype_params.get("boundary"))
    return request.mimetype == FORM_TYPES[0]


def _refuse_nul():
    """A NUL character in a query (no link of ours has one; a crafted request may) would reach
    PostgreSQL, which refuses it in text: refuse it in words first. Forms check their own
    fields, and say so beside the field."""
    if any("\x00" in value for value in (*request.args.keys(), *request.args.values())):
        return render_template("errors/nul.html"), 400
    return None


# Scripts only from our own files (no page has inline script), so injected markup cannot run;
# inline styles stay (templates and emails use them); images from anywhere, as an email's logo
# and products are on the merchant's or Stripe's hosts. Only our own pages may frame ours: the
# previews are our frames, and no other site can overlay an owner's buttons (clickjacking).
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' https: http: data:; object-src 'none'; base-uri 'self'; "
    "frame-ancestors 'self'"
)


def _security_headers(response):
    # Forms posted over https are checked against their Referer (CSRF): say that browsers must
    # send it to us, whatever their own default; and never to other sites.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    if current_app.config["SESSION_COOKIE_SECURE"]:  # production, served over https only
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    if request.endpoint != "static":
        # Pages and downloads hold a merchant's or a shopper's data: no cache keeps a copy
        # (a shared computer's browser, a proxy) once the person has logged out.
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _register_error_pages(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(405, _method_not_allowed)
    app.register_error_handler(500, _server_error)
    for code in (403, 404, 413):
        app.register_error_handler(code, _plain_page(code))

    @app.errorhandler(OperationalError)
    def database_unavailable(error):
        db.session.rollback()
        # Another write held it too long (SQLite's lock, or PostgreSQL's LOCK_WAIT).
        busy = any(words in str(error) for words in ("database is locked", "lock timeout"))
        # Rendered without context processors: they would load current_user from the database.
        page = app.jinja_env.get_template("errors/503.html").render(busy=busy)
        return page, 503, {"Retry-After": "5"}


def _plain_page(code: int):
    return lambda _error: (render_template(f"errors/{code}.html"), code)


def _csrf_error(_error):
    if not _sent_as_form():  # no token could be read: not that a session ended
        return render_template("errors/not_a_form.html"), 400
    # htmx puts an answer into a part of the page: only the words, and the page (with what was
    # typed in it) stays.
    fragment = request.headers.get("HX-Request")
    if not (fragment or current_user.is_authenticated or request.endpoint in PUBLIC_FORMS):
        # The session ended (a log-out in another tab): its forms' tokens went with it.
        return signin.sign_in_first()
    return render_template(f"errors/csrf{'_fragment' if fragment else ''}.html"), 400


def _method_not_allowed(error):
    # e.g. a form's address reloaded, or typed in: the portal's page, and the Allow header.
    allow = [(name, value) for name, value in error.get_headers() if name == "Allow"]
    return render_template("errors/405.html"), 405, allow


def _server_error(_error):
    # A failed write leaves the session unusable: the page's own lookups (the signed-in user,
    # for the top bar) would fail again and leave only a bare error.
    db.session.rollback()
    return render_template("errors/500.html"), 500
