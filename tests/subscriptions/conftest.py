"""Subscriptions page fixtures: a signed-in owner of Bean Shop."""

from __future__ import annotations

import pytest

from factories import PASSWORD, make_owner


@pytest.fixture
def owner(client, login):
    user = make_owner("Bean Shop", "owner@bean.example")
    login(client, "owner@bean.example", PASSWORD)
    return user
