"""The cart-recovery terms: read the current version, and the owner accepts it."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from portal import db
from portal.services import onboarding, terms
from portal.tenancy import current_merchant, owner_required
from portal.web.filters import day

bp = Blueprint("terms", __name__)


@bp.route("/terms")
@login_required
def show():
    version = terms.CURRENT_VERSION
    return render_template(
        "terms/show.html",
        version=version,
        effective=terms.effective_date(version),
        effective_date=terms.effective_date,  # a version as the day it is named by
        text=terms.text_template(version),
        standing=terms.standing(current_merchant()),
        next_step=onboarding.next_step(current_merchant()),
    )


@bp.route("/terms/accept", methods=["POST"])
@owner_required
def accept():
    # The form names the version its reader saw: terms released meanwhile are read first.
    version = request.form.get("version", "")
    if version != terms.CURRENT_VERSION:
        flash("The terms changed while you were reading them. Please read this version.", "error")
        return redirect(url_for("terms.show"))
    terms.accept(current_merchant(), current_user, request.remote_addr or "", version)
    db.session.commit()
    flash(f"You accepted the terms of {day(terms.effective_date(version))}.", "success")
    return redirect(url_for("terms.show"))
