"""/healthz against the real database and Redis, and against unreachable ones."""

from __future__ import annotations

import socket

from redis import Redis

from portal.db import make_engine
from portal.extensions import rq


def _closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_healthy(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"database": "ok", "redis": "ok", "status": "ok"}


def test_redis_down_is_named(client, monkeypatch):
    monkeypatch.setattr(rq, "connection", Redis(port=_closed_port(), socket_connect_timeout=1))
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["database"] == "ok" and body["redis"].startswith("failed: ConnectionError")


def test_database_down_is_named(app, client, monkeypatch):
    bad = make_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/none?connect_timeout=2"
    )
    monkeypatch.setitem(app.extensions, "db_engine", bad)
    response = client.get("/healthz")
    body = response.get_json()
    assert response.status_code == 503
    assert body["redis"] == "ok" and body["database"].startswith("failed: OperationalError")
