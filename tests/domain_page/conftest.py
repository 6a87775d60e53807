"""Sending domain page fixtures: a signed-in owner, with the operator's SPF include configured."""

from __future__ import annotations

import pytest

from domain_page_kit import SPF
from factories import PASSWORD, make_owner


@pytest.fixture
def owner(app, db, client, login, monkeypatch):
    """A signed-in owner, with the operator's SPF include configured."""
    monkeypatch.setitem(app.config, "SPF_INCLUDE", SPF)
    user = make_owner("Bean Shop", "owner@bean.example")
    login(client, "owner@bean.example", PASSWORD)
    return user
