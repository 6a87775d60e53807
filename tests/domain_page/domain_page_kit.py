"""Shared steps for the sending domain page tests: the page, what is stored, adding a domain."""

from __future__ import annotations

from helpers import post_form
from sqlalchemy import select

from portal.models import SendingDomain

SPF = "_spf.portal.example"


def page(client) -> str:
    response = client.get("/domain")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def stored(db) -> list[SendingDomain]:
    db.expire_all()
    return db.scalars(select(SendingDomain)).all()


def add(client, domain: str, local_part: str = "hello"):
    return post_form(client, "/domain", {"domain": domain, "local_part": local_part})
