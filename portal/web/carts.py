"""Abandoned carts: every expired session with its decision, and the recovered payments."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from portal.models import RecoveryCase
from portal.services import carts
from portal.tenancy import get_owned_or_404, owned

bp = Blueprint("carts", __name__, url_prefix="/carts")


@bp.route("/")
@login_required
def index():
    recovered_only = request.args.get("show") == "recovered"
    cases = carts.recent(owned(RecoveryCase), recovered_only)
    return render_template(
        "carts/index.html",
        cases=cases,
        describe=carts.describe,
        sends=carts.sends_of([case.id for case in cases]),
        recovered_only=recovered_only,
    )


@bp.route("/<id:case_id>")
@login_required
def show(case_id: int):
    case = get_owned_or_404(RecoveryCase, case_id)
    sends = carts.sends(case)
    return render_template(
        "carts/show.html",
        case=case,
        describe=carts.describe,
        sends=sends,
        versions=carts.versions_of(sends),
        send_status=carts.SEND_STATUS,
        recovering=carts.recovering_session(case),
    )
