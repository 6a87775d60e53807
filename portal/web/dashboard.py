"""The dashboard: a period's figures beside the period before it, the funnel of its carts, a
daily chart and, when a holdout runs, what the emails add."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required

from portal.db import utcnow
from portal.services import dashboard, dashboard_chart, dashboard_words, onboarding
from portal.tenancy import current_merchant

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@bp.route("/")
@login_required
def index():
    """The signed-in merchant's figures for the last `?days=` days (7, 30 or 90)."""
    days = dashboard.parse_days(request.args.get("days"))
    board = dashboard.build(current_merchant().id, days, utcnow())
    charts = [dashboard_chart.chart(board.daily, size) for size in dashboard_chart.SIZES]
    return render_template(
        "dashboard/index.html",
        board=board,
        charts=charts if board.has_history else [],
        periods=dashboard.PERIODS,
        words=dashboard_words,
        to_do=[] if board.has_history else _to_do(),
    )


def _to_do() -> list[str]:
    """The required steps of the home page's checklist still to do, in words ("connect Stripe")."""
    steps = onboarding.checklist(current_merchant())
    return [s.title[0].lower() + s.title[1:] for s in steps if not (s.done or s.optional)]
