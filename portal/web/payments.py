"""Recovered payments: the list (period, keyset pages) and one payment with its story."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request
from flask_login import login_required

from portal.db import utcnow
from portal.models import RecoveryCase
from portal.services import carts, dashboard, payments
from portal.web.query import query_id
from portal.tenancy import current_merchant, get_owned_or_404

bp = Blueprint("payments", __name__, url_prefix="/payments")


@bp.route("/")
@login_required
def index():
    merchant = current_merchant()
    # Whole days in the merchant's zone, today so far: the dashboard's very periods.
    period = dashboard.period_asked(
        merchant.id, request.args.get("days"), utcnow(), payments.PERIODS
    )
    since = period.start if period else None
    before = query_id("before")
    return render_template(
        "payments/index.html",
        page=payments.page(merchant.id, since, before),
        totals=payments.totals(merchant.id, since),
        days=period.days if period else None,
        period=period,
        periods=payments.PERIODS,
        paging=before is not None,
    )


@bp.route("/<id:case_id>")
@login_required
def show(case_id: int):
    case = get_owned_or_404(RecoveryCase, case_id)
    if case.recovered_at is None:
        abort(404)
    sends = carts.sends(case)
    recovering = carts.recovering_session(case)
    return render_template(
        "payments/show.html",
        case=case,
        sends=sends,
        send=payments.bringing_send(case, sends),
        versions=carts.versions_of(sends),
        recovering=recovering,
        stripe_url=payments.dashboard_url(recovering),
    )
