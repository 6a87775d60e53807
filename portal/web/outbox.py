"""The development outbox: with no SMTP_URL, the emails a merchant's recoveries would send."""

from __future__ import annotations

from email import message_from_string, policy

from flask import Blueprint, render_template
from flask_login import login_required

from portal import db
from portal.models import OutboxMessage
from portal.tenancy import get_owned_or_404, owned
from portal.web.filters import when

bp = Blueprint("outbox", __name__, url_prefix="/outbox")
PAGE_SIZE = 100
# What a person reads an email by; the rest (Message-ID, MIME, List-Unsubscribe...) is folded.
MAIN_HEADERS = ("from", "to", "reply-to", "subject", "date")


@bp.route("/")
@login_required
def index():
    messages = db.session.scalars(
        owned(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(PAGE_SIZE)
    ).all()
    return render_template("outbox/index.html", messages=messages)


@bp.route("/<id:message_id>")
@login_required
def show(message_id: int):
    stored = get_owned_or_404(OutboxMessage, message_id)
    message = message_from_string(stored.raw, policy=policy.default)
    html, text = message.get_body(("html",)), message.get_body(("plain",))
    headers = [(name, _header_words(name, value)) for name, value in message.items()]
    return render_template(
        "outbox/show.html",
        stored=stored,
        headers=[h for h in headers if h[0].lower() in MAIN_HEADERS],
        technical=[h for h in headers if h[0].lower() not in MAIN_HEADERS],
        html=html.get_content() if html else "",
        text=text.get_content() if text else "",
    )


def _header_words(name: str, value) -> str:
    """The header as sent; a Date also in the merchant's time zone, as every page shows times."""
    if name.lower() == "date" and getattr(value, "datetime", None) is not None:
        return f"{value} ({when(value.datetime)})"
    return str(value)
