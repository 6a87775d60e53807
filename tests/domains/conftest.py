"""Custom sending domain fixtures: an app context with the SPF include, and a domain row."""

from __future__ import annotations

import pytest

from domains_kit import SPF
from factories import make_owner
from portal.models import SendingDomain
from portal.services import domains


@pytest.fixture
def ctx(app, monkeypatch):
    """An app context, with the operator's SPF include configured."""
    monkeypatch.setitem(app.config, "SPF_INCLUDE", SPF)
    with app.app_context():
        yield app


@pytest.fixture
def row(ctx, db) -> SendingDomain:
    created = domains.create(make_owner().merchant, "Shop.example")
    db.commit()
    return created
