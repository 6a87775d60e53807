"""Links shoppers follow from emails: the tracked recovery link and the unsubscribe page."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

from portal import db
from portal.db import utcnow
from portal.extensions import csrf
from portal.models import ConsentSource, ConsentStatus
from portal.extensions import rq
from portal.services import addresses, held_unsubscribes, links, shopper, subscriptions
from portal.web.shopper_words import PHRASES, Phrases

bp = Blueprint("links", __name__)
csrf.exempt(bp)  # signed tokens authorize these; mail clients' one-click POST has no CSRF token


@bp.get("/r/sample")
@bp.get("/unsubscribe/sample")
def sample():
    """Where the links of the editor's preview and test emails lead: nothing to recover or
    leave, so say what a shopper's click would do instead of calling the link broken."""
    unsubscribe = request.path.startswith("/unsubscribe/")
    return render_template("links/sample.html", unsubscribe=unsubscribe)


@bp.get("/r/<token>")
@db.writes_on_get  # the click is recorded
def recover(token: str):
    send_id = links.read_recovery(token)
    record = request.method != "HEAD"
    click = shopper.follow(send_id, utcnow(), record) if send_id is not None else None
    if click is None:
        return _invalid()
    db.session.commit()
    if click.recovery_url is None:
        say = Phrases(click.wording)
        return render_template("links/expired.html", click=click, say=say), 410
    return redirect(click.recovery_url, code=303)


@bp.route("/u/<token>", methods=["GET", "POST"])
def unsubscribe_page(token: str):
    try:
        return _unsubscribe_page(token)
    except OperationalError:
        if request.method != "POST":
            raise  # only asking: the database's own 503 page says to try again
        db.session.rollback()
    return _hold_for_later(token)


def _unsubscribe_page(token: str):
    token_data = links.read_unsubscribe(token)
    target = shopper.unsubscribe_target(token_data) if token_data else None
    if target is None:
        return _invalid()
    merchant, email = target
    say = Phrases(shopper.wording(merchant.id))
    page = {"merchant": merchant, "say": say}
    if email.startswith(addresses.ERASED_PREFIX):  # erased on request: never emailed again
        return render_template(
            "links/unsubscribe.html", email=say("your_address"), done=True, **page
        )
    if request.method != "POST":  # link scanners follow links (GET, HEAD): those only ask
        contact = subscriptions.held_contact(merchant, email)
        done = contact is not None and contact.status == ConsentStatus.UNSUBSCRIBED
        return render_template(
            "links/unsubscribe.html",
            **page,
            email=email,
            done=done,
            already=done,
            # Not an unsubscribe: the box left unticked at a later checkout (Stripe's opt_out).
            unticked=done and contact.source == ConsentSource.CHECKOUT_SESSION,
        )
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    shopper.unsubscribe_and_stop(merchant.id, email, _source(one_click), utcnow())
    return render_template("links/unsubscribe.html", email=email, done=True, **page)


def _source(one_click: bool) -> ConsentSource:
    return ConsentSource.ONE_CLICK if one_click else ConsentSource.UNSUBSCRIBE_LINK


def _hold_for_later(token: str):
    """The database is away: a signed token is kept in Redis and applied when it is back
    (held_unsubscribes), since a mail app's one-click request is never posted again."""
    if links.read_unsubscribe(token) is None:
        return _invalid()
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    source = _source(one_click)
    try:
        held_unsubscribes.hold(rq.connection, token, source, utcnow())
    except RedisError:
        return render_template("errors/503.html"), 503  # nothing could keep it: say try again
    return render_template("links/unsubscribe_held.html"), 202


def _invalid():
    """A shopper's page, not the portal's: the link is not one this portal made (or lost its
    end). Whose shop it was cannot be told, so it speaks the browser's language."""
    say = Phrases(request.accept_languages.best_match(PHRASES))
    return render_template("links/invalid.html", say=say), 404
