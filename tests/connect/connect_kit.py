"""Shared steps for the /connect tests: the sandbox platform, an owner, and OAuth round trips."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import requests
import stripe
from sqlalchemy import select

from factories import PASSWORD, make_owner
from helpers import post_form
from portal.models import StripeAccount


def _platform(sandbox) -> stripe.StripeClient:
    return stripe.StripeClient(
        sandbox.config["PLATFORM_SECRET_KEY"],
        client_id=sandbox.config["CLIENT_ID"],
        base_addresses={"api": sandbox.base, "connect": sandbox.base},
    )


def _account(sandbox, name: str = "Tea Shop", **params) -> str:
    body = {"type": "standard", "business_profile": {"name": name}, **params}
    return _platform(sandbox).v1.accounts.create(body).id


def _owner(app, login, name: str = "Acme Tea"):
    client = app.test_client()
    user = make_owner(name)
    login(client, user.email, PASSWORD)
    return client, user


def _start(client) -> str:
    """Press "Connect with Stripe": the authorize URL the portal sends the browser to."""
    response = post_form(client, "/connect/oauth", {}, page="/connect")
    assert response.status_code == 302
    return response.headers["Location"]


def _authorize(sandbox, url: str, **form) -> str:
    """Answer the sandbox's authorize page; the portal path Stripe redirects back to."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    response = requests.post(
        f"{sandbox.base}/oauth/authorize", data={**query, **form}, allow_redirects=False, timeout=5
    )
    assert response.status_code == 302, response.text
    location = urlsplit(response.headers["Location"])
    return f"{location.path}?{location.query}"


def _callback(client, path: str) -> str:
    """Follow Stripe's redirect back; the /connect page it ends on."""
    response = client.get(path)
    assert response.status_code == 302 and response.headers["Location"] == "/connect"
    return client.get("/connect").get_data(as_text=True)


def _connect(client, sandbox, **form) -> str:
    return _callback(client, _authorize(sandbox, _start(client), **form))


def _stored(db) -> list[StripeAccount]:
    db.rollback()
    return db.scalars(select(StripeAccount)).all()


def _text(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))
