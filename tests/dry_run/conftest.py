"""Dry run fixtures: an owner of a fresh merchant, with jobs on the test Redis."""

from __future__ import annotations

import pytest

from dry_run_kit import _seq
from factories import make_owner
from portal.extensions import rq


@pytest.fixture
def owner(app, db, redis_conn, monkeypatch):
    monkeypatch.setattr(rq, "connection", redis_conn)
    return make_owner(email=f"dry{next(_seq)}@example.com")
