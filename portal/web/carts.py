"""Abandoned carts: every expired session with its decision (filters, keyset pages), and one
session's whole timeline."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from portal.models import RecoveryCase
from portal.db import utcnow
from portal.services import carts, dashboard, payments, settings, subscriptions, timeline
from portal.web.query import query_id
from portal.tenancy import current_merchant, get_owned_or_404

bp = Blueprint("carts", __name__, url_prefix="/carts")


@bp.route("/")
@login_required
def index():
    show, reason = request.args.get("show", ""), request.args.get("reason", "")
    before, days = query_id("before"), request.args.get("days", "")
    # From the dashboard: its period's carts.
    period = dashboard.period_asked(current_merchant().id, days, utcnow())
    window = (period.start, period.end) if period else None
    page = carts.page(current_merchant().id, show, reason, before, window)
    return render_template(
        "carts/index.html",
        page=page,
        describe=carts.describe,
        sends=carts.sends_of([case.id for case in page.cases]),
        show=show if show in carts.FILTERS else "",
        reason=reason if reason in carts.REASONS else "",
        filters=carts.FILTERS,
        reasons=carts.REASONS,
        paging=before is not None,
        period=period,
    )


@bp.route("/<id:case_id>")
@login_required
def show(case_id: int):
    case = get_owned_or_404(RecoveryCase, case_id)
    sends = carts.sends(case)
    recovering = carts.recovering_session(case)
    return render_template(
        "carts/show.html",
        case=case,
        describe=carts.describe,
        sends=sends,
        versions=carts.versions_of(sends),
        send_status=carts.SEND_STATUS,
        error_words=carts.error_words,
        recovering=recovering,
        entries=timeline.build(
            case, sends, timeline.events(case), recovering, timeline.unsubscribes(case, sends)
        ),
        stripe_url=payments.dashboard_url(recovering),
        contact=subscriptions.held_contact(current_merchant(), case.session.email or ""),
        source_words=subscriptions.source_words,
        quiet_hours=settings.settings_for(current_merchant().id).quiet_start is not None,
    )
