"""Subscriptions: the merchant's addresses and their consent, one customer's record, manual
changes, and the privacy requests (export an address's data, erase it)."""

from __future__ import annotations

import json
from urllib.parse import quote

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template
from flask import request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField
from wtforms.validators import DataRequired

from portal import db
from portal.db import utcnow
from portal.services import (
    carts,
    contact_list,
    erasure,
    privacy_export,
    recovery,
    subscriptions,
)
from portal.tenancy import current_merchant, owner_required

bp = Blueprint("subscriptions", __name__, url_prefix="/subscriptions")


class StatusForm(FlaskForm):
    email = HiddenField()
    status = HiddenField()
    asked_again = BooleanField("They asked me to subscribe them again")


class EraseForm(FlaskForm):
    email = HiddenField()
    confirm = BooleanField(
        "I understand this cannot be undone",
        validators=[DataRequired("Tick the box to confirm: erasing cannot be undone.")],
    )


@bp.route("/")
def with_slash():
    """The list's address as the other sections write theirs (/carts/, /team/...)."""
    # Only the list's own parameters: others would steer url_for (_external, _scheme, _method).
    names = ("q", "status", "after", "before")
    kept = {name: request.args[name] for name in names if name in request.args}
    return redirect(url_for(".index", **kept), code=301)


@bp.route("")
@login_required
def index():
    status = request.args.get("status")
    status = status if status in subscriptions.STATUS else None
    query = subscriptions.normalize(request.args.get("q"))[:254]
    listed = contact_list.page(
        current_merchant(),
        status,
        query,
        request.args.get("after") or None,
        before=request.args.get("before") or None,
    )
    return render_template(
        "subscriptions/index.html",
        listed=listed,
        status=status,
        query=query,
        counts=contact_list.counts(current_merchant(), query),
        paging=bool(request.args.get("after") or request.args.get("before")),
        whole_address=subscriptions.is_address(query),
        status_words=subscriptions.STATUS,
        source_words=subscriptions.source_words,
    )


@bp.route("/customer")
@login_required
def customer():
    return _customer_page(request.args.get("email"), EraseForm())


def _customer_page(email: str | None, erase_form: EraseForm, code: int = 200):
    found = subscriptions.customer(current_merchant(), email or "")
    if found is None and subscriptions.is_address(email):
        # Nothing held yet: the page still lets a person's "never email me" be recorded.
        found = subscriptions.Customer(subscriptions.normalize(email), None, [], [], [])
    if found is None:
        abort(404)
    secret = current_app.config["SECRET_KEY"]
    page = render_template(
        "subscriptions/customer.html",
        customer=found,
        erased=erasure.is_erased(current_merchant().id, found.email, secret),
        themselves=subscriptions.unsubscribed_themselves(found.contact),
        status_form=StatusForm(),
        erase_form=erase_form,
        status_words=subscriptions.STATUS,
        send_status=carts.SEND_STATUS,
        describe=carts.describe,
    )
    return page, code


@bp.post("/customer/status")
@login_required
def change_status():
    # Any team member may do what a support request asks; the ledger names who did it.
    form = StatusForm()
    if not form.validate_on_submit():
        abort(400)
    try:
        outcome = subscriptions.change(
            current_merchant(),
            current_user,
            form.email.data,
            form.status.data,
            utcnow(),
            current_app.config["SECRET_KEY"],
            asked_again=form.asked_again.data,
        )
    except subscriptions.SubscriptionError as exc:
        flash(str(exc), "error")
        if subscriptions.is_address(form.email.data):
            email = subscriptions.normalize(form.email.data)
            return redirect(url_for("subscriptions.customer", email=email), code=303)
        return redirect(url_for("subscriptions.index"), code=303)
    db.session.commit()
    words = subscriptions.STATUS[form.status.data]
    if outcome == subscriptions.CHANGED:
        recovery.reconsider(current_merchant().id, email=subscriptions.normalize(form.email.data))
        flash(f"{words}: recorded as changed by you.", "success")
    elif outcome == subscriptions.UNCHANGED:
        flash(f"Nothing changed: the address is {words.lower()} already.", "info")
    else:
        flash("Recorded, but a change dated later still decides the status.", "info")
    email = subscriptions.normalize(form.email.data)
    return redirect(url_for("subscriptions.customer", email=email), code=303)


@bp.route("/customer/export.json")
@login_required
def export():
    email = subscriptions.normalize(request.args.get("email"))
    if subscriptions.customer(current_merchant(), email) is None:
        abort(404)
    body = json.dumps(privacy_export.export_person(current_merchant(), email), indent=2)
    name = f"customer-{email}.json"
    ascii_name = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in ".-_@") else "_" for ch in name
    )
    # A header carries Latin-1 only: the plain name for every browser, the address as it is
    # (RFC 6266's filename*) for those that read it.
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"
    return Response(
        body, mimetype="application/json", headers={"Content-Disposition": disposition}
    )


# GET: a refused erase left this address in the bar; opened again, it is the address's page.
@bp.get("/customer/erase")
@login_required
def erase_page():
    email = request.args.get("email")
    if subscriptions.is_address(email):
        return redirect(url_for("subscriptions.customer", email=email, _anchor="erase"), 303)
    return redirect(url_for("subscriptions.index"), code=303)


@bp.post("/customer/erase")
@owner_required
def erase():
    form = EraseForm()
    held = subscriptions.customer(current_merchant(), form.email.data or "") is not None
    if not (held or subscriptions.is_address(form.email.data)):
        flash("That is not a complete email address: nothing was erased.", "error")
        return redirect(url_for("subscriptions.index"), code=303)
    if not form.validate_on_submit():
        return _customer_page(form.email.data, form, 400)
    secret = current_app.config["SECRET_KEY"]
    subscriptions.erase(current_merchant(), form.email.data, secret)
    db.session.commit()
    email = subscriptions.normalize(form.email.data)
    flash(f"{email} was erased. Only a keyed hash remains, so it is never emailed again.")
    return redirect(url_for("subscriptions.index"), code=303)
