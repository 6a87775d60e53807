"""Subscription CSV import fixtures: jobs on the test Redis, and the merchant's owner."""

from __future__ import annotations

import pytest

from factories import make_owner
from portal.extensions import rq


@pytest.fixture(autouse=True)
def _queue(redis_conn, monkeypatch):
    monkeypatch.setattr(rq, "connection", redis_conn)


@pytest.fixture
def owner(db):
    return make_owner("Bean Shop", "owner@bean.example")
