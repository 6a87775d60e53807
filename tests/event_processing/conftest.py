"""Stripe event processing fixtures: jobs on the test Redis."""

from __future__ import annotations

import pytest

from portal.extensions import rq


@pytest.fixture(autouse=True)
def _setup(redis_conn, monkeypatch):
    monkeypatch.setattr(rq, "connection", redis_conn)
