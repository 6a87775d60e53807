"""Operator endpoints: is the portal able to work?"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, jsonify
from prometheus_client import CONTENT_TYPE_LATEST

from portal.extensions import rq
from portal.services import health, metrics

log = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.route("/healthz")
def healthz():
    """200 when PostgreSQL/SQLite and Redis answer; 503 naming whichever failed."""
    checks = {
        "database": health.check_database(current_app.extensions["db_engine"]),
        "redis": health.check_redis(rq.connection),
    }
    for name, error in checks.items():
        if error is not None:  # the details (hosts, ports) are for the operator's logs only
            log.warning("healthz: %s failed: %s", name, error)
    body = {
        name: ("ok" if error is None else f"failed: {error.split(':', 1)[0]}")
        for name, error in checks.items()
    }
    ok = all(error is None for error in checks.values())
    body["status"] = "ok" if ok else "failed"
    return jsonify(body), 200 if ok else 503


@bp.route("/metrics")
def prometheus_metrics():
    """The operator's figures in Prometheus' text format (see services/metrics.py)."""
    body = metrics.text(current_app.extensions["db_engine"], rq.connection, rq.all_queues())
    return Response(body, content_type=CONTENT_TYPE_LATEST)
