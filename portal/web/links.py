"""Links shoppers follow from emails: the tracked recovery link and the unsubscribe page."""
from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request

from portal import db
from portal.db import utcnow
from portal.extensions import csrf
from portal.models import Merchant
from portal.services import links, shopper

bp = Blueprint("links", __name__)
csrf.exempt(bp)  # signed tokens authorize these; mail clients' one-click POST has no CSRF token


@bp.get("/r/<token>")
def recover(token: str):
    send_id = links.read_recovery(token)
    click = shopper.follow(send_id, utcnow()) if send_id is not None else None
    if click is None:
        abort(404)
    db.session.commit()
    if click.recovery_url is None:
        return render_template("links/expired.html", click=click), 410
    return redirect(click.recovery_url, code=303)


@bp.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe_page(token: str):
    target = links.read_unsubscribe(token)
    merchant = db.session.get(Merchant, target[0]) if target else None
    if merchant is None:
        abort(404)
    email = target[1]
    if request.method == "GET":  # link scanners follow links: GET only asks
        return render_template("links/unsubscribe.html", merchant=merchant, email=email, done=False)
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    shopper.unsubscribe(merchant.id, email, "one_click" if one_click else "unsubscribe_link", utcnow())
    db.session.commit()
    return render_template("links/unsubscribe.html", merchant=merchant, email=email, done=True)
