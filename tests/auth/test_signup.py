"""Signing up: the merchant and owner it creates, refusals, names and the time zone."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select

from factories import make_owner
from helpers import post_form
from portal.models import Merchant, User
from auth_kit import SIGNUP


def test_signup_creates_merchant_and_owner_and_signs_in(client, db):
    response = post_form(client, "/signup", SIGNUP)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    user = db.scalar(select(User))
    assert (user.email, user.role, user.merchant.name) == ("ada@example.com", "owner", "Acme Tea")
    assert user.password_hash.startswith("$argon2id$")
    home = client.get("/").get_data(as_text=True)
    assert "Acme Tea" in home and "Connect Stripe" in home


def test_signup_rejects_taken_address_and_mismatched_passwords(client, db):
    make_owner(email="ada@example.com")
    taken = post_form(client, "/signup", SIGNUP)
    assert taken.status_code == 400 and "already exists" in taken.get_data(as_text=True)
    mismatch = post_form(
        client, "/signup", {**SIGNUP, "email": "b@example.com", "confirm": "other one!!"}
    )
    assert mismatch.status_code == 400 and "The passwords differ." in mismatch.get_data(
        as_text=True
    )
    short = post_form(
        client,
        "/signup",
        {**SIGNUP, "email": "c@example.com", "password": "short", "confirm": "short"},
    )
    said = short.get_data(as_text=True)
    assert short.status_code == 400 and "Too short: this has 5 characters, 10 are needed." in said
    assert "Use 10 to" not in said  # the hint states the rule; the error says what is wrong
    long = post_form(
        client,
        "/signup",
        {**SIGNUP, "email": "d@example.com", "password": "x" * 300, "confirm": "x" * 300},
    )
    assert "Too long: use at most 256 characters (this has 300)." in long.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Merchant)) == 1


def test_names_with_line_breaks_or_control_characters_are_refused_beside_the_field(client, db):
    for field in ("business_name", "name"):
        for bad in (
            "Shop\r\nBcc: x@evil.example",
            "Shop\x00",
            "Sh\u2028op",
            "Sh\x85op",
            "Sh\x1bop",
        ):
            response = post_form(client, "/signup", {**SIGNUP, field: bad})
            page = response.get_data(as_text=True)
            assert response.status_code == 400 and "Use one line of plain text" in page, (
                field,
                bad,
            )
    assert db.scalar(select(func.count()).select_from(Merchant)) == 0


def test_a_business_name_that_would_read_as_an_address_is_refused(client, db):
    """The business name is the From name of a new account's emails."""
    response = post_form(
        client, "/signup", {**SIGNUP, "business_name": "Bank <help@bank.example>"}
    )
    page = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "Use a name without < > or @: your emails show it as who they are from." in page
    response = post_form(client, "/signup", {**SIGNUP, "name": "Ann <ann@shop.example>"})
    assert response.status_code == 302  # a person's own name is not a sender name
    assert db.scalar(select(func.count()).select_from(Merchant)) == 1


@pytest.mark.parametrize(
    ("sent", "kept"), [("Asia/Tokyo", "Asia/Tokyo"), ("Mars/Olympus", "UTC"), ("", "UTC")]
)
def test_signup_starts_the_account_in_the_browsers_time_zone(client, db, sent, kept):
    from portal.models import SendingSettings

    response = post_form(client, "/signup", {**SIGNUP, "timezone": sent})
    assert response.status_code == 302
    user = db.scalar(select(User))
    stored = db.get(SendingSettings, user.merchant_id)
    assert (stored.timezone if stored else "UTC") == kept


def test_a_reserved_domain_is_named_and_test_is_for_development_only(app, client, db, monkeypatch):
    local = post_form(client, "/signup", {**SIGNUP, "email": "me@shop.local"})
    assert local.status_code == 400
    assert "shop.local cannot be reached from the internet." in local.get_data(as_text=True)
    with monkeypatch.context() as production:
        production.setitem(app.config, "PORTAL_ENV", "production")
        refused = post_form(client, "/signup", {**SIGNUP, "email": "me@shop.test"})
    assert refused.status_code == 400
    assert "shop.test is a reserved name" in refused.get_data(as_text=True)
    # In development mail waits in the Outbox: a .test address signs up.
    assert post_form(client, "/signup", {**SIGNUP, "email": "me@shop.test"}).status_code == 302
    assert db.scalar(select(User.email)) == "me@shop.test"
