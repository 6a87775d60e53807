"""The signed-in home page: the onboarding checklist, and the last 30 days once live."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from portal.db import utcnow
from portal.services import accounts, dashboard, onboarding, settings
from portal.tenancy import current_merchant

bp = Blueprint("home", __name__)
SUMMARY_DAYS = 30


@bp.route("/")
def index():
    """The checklist for a signed-in user; visitors land on the login page."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    merchant = current_merchant()
    steps = onboarding.checklist(merchant)
    done, total = onboarding.progress(steps)
    pages = {s.key: url_for(s.endpoint) for s in steps}
    board = dashboard.build(merchant.id, SUMMARY_DAYS, utcnow())
    return render_template(
        "home/index.html",
        steps=steps,
        done=done,
        total=total,
        pages=pages,
        summary=board.current,
        mail=board.mail,
        days=SUMMARY_DAYS,
        # A member follows the setup; its steps are the owner's, whom they are told to ask.
        owner=None if current_user.is_owner else accounts.owner_of(merchant.id),
        # UTC is what a browser that hid its zone at sign-up left: say so, where it can change.
        in_utc=current_user.is_owner and settings.settings_for(merchant.id).timezone == "UTC",
    )
