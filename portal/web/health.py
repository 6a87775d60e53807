"""Operator endpoints: is the portal able to work?"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from portal.extensions import rq
from portal.services import health

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    """200 when PostgreSQL/SQLite and Redis answer; 503 naming whichever failed."""
    checks = {
        "database": health.check_database(current_app.extensions["db_engine"]),
        "redis": health.check_redis(rq.connection),
    }
    body = {
        name: ("ok" if error is None else f"failed: {error}") for name, error in checks.items()
    }
    ok = all(error is None for error in checks.values())
    body["status"] = "ok" if ok else "failed"
    return jsonify(body), 200 if ok else 503
