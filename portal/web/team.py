"""The merchant's team: who can sign in for it."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from portal import db
from portal.models import User
from portal.tenancy import get_owned_or_404, owned

bp = Blueprint("team", __name__, url_prefix="/team")


@bp.route("/")
@login_required
def index():
    members = db.session.scalars(owned(User).order_by(User.id)).all()
    return render_template("team/index.html", members=members)


@bp.route("/<id:user_id>")
@login_required
def member(user_id: int):
    return render_template("team/member.html", member=get_owned_or_404(User, user_id))
