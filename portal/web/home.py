"""The signed-in home page: the onboarding checklist."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from portal.services import onboarding
from portal.tenancy import current_merchant

bp = Blueprint("home", __name__)


@bp.route("/")
def index():
    """The checklist for a signed-in user; visitors land on the login page."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    steps = onboarding.checklist(current_merchant())
    done, total = onboarding.progress(steps)
    return render_template("home/index.html", steps=steps, done=done, total=total)
