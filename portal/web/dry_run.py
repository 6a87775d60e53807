"""(being written)"""

from __future__ import annotations

from flask import Blueprint
from flask_login import login_required

bp = Blueprint("dry_run", __name__, url_prefix="/dry-runs")


@bp.route("/")
@login_required
def index():
    return "dry_run"
