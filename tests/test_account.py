"""Your own account page: your name, and a password changed while logged in (checked and
limited like a login, ending every other session), through real requests with CSRF on."""

from __future__ import annotations

import re

from factories import PASSWORD, make_member, make_owner
from helpers import post_form
from portal.models import User

NEW = "a brand new passphrase"


def _owner(client, login):
    owner = make_owner(name="Acme Tea", email="ada@example.com")
    assert login(client, "ada@example.com", PASSWORD).status_code == 302
    return owner


def _error_beside(page: str, name: str) -> str | None:
    found = re.search(rf'id="{name}".*?<p class="error">([^<]*)</p>', page, re.S)
    return found.group(1) if found else None


def test_the_page_needs_a_login_and_shows_who_you_are(app, client, login):
    assert client.get("/account").status_code == 302
    _owner(client, login)
    page = client.get("/account").get_data(as_text=True)
    assert "ada@example.com" in page and "Owner: you connect Stripe" in page
    assert 'href="/account"' in client.get("/").get_data(as_text=True)  # from the top bar
    # Typed with a slash, or a list page without one: the same page.
    assert "ada@example.com" in client.get("/account/").get_data(as_text=True)
    assert client.get("/carts").status_code == 200
    assert "invitations you send carry it" in page


def test_a_member_is_not_told_of_invitations_they_cannot_send(app, client, login):
    owner = make_owner("Ada Shop", "ada@example.com")
    make_member(owner.merchant_id, "bea@example.com")
    login(client, "bea@example.com", PASSWORD)
    page = client.get("/account").get_data(as_text=True)
    assert (
        "Member: you see every page, send yourself test emails" in page
        and "Your teammates see it on the Team page." in page
    )
    assert "invitations" not in page


def test_your_name_is_saved_or_refused_beside_the_field(app, client, login, db):
    owner = _owner(client, login)
    response = post_form(client, "/account/name", {"name": " Ada L. "}, page="/account")
    assert response.status_code == 303 and db.get(User, owner.id).name == "Ada L."
    for bad, says in (
        ("Ada\nBcc: x", "line break"),
        ("A" * 201, "at most 200"),
        ("Zoë \u202eabc", "turns the text’s direction"),
        ("\u200b", "invisible character"),  # looks empty, but no strip() takes it
        ("Ada\ufeff\U000e0041 L.", "invisible character"),
    ):
        refused = post_form(client, "/account/name", {"name": bad}, page="/account")
        assert refused.status_code == 400
        assert says in _error_beside(refused.get_data(as_text=True), "name")
    assert db.get(User, owner.id).name == "Ada L."


def test_clearing_your_name_says_what_teammates_see_instead(app, client, login, db):
    owner = _owner(client, login)
    cleared = post_form(client, "/account/name", {"name": "  "}, page="/account")
    assert cleared.status_code == 303 and db.get(User, owner.id).name == ""
    page = client.get("/account").get_data(as_text=True)
    assert "Your name is removed: your teammates now see your email address instead." in page
    assert "Your name is saved." not in page


def test_a_password_change_needs_the_current_one_and_ends_other_sessions(app, client, login):
    _owner(client, login)
    other = app.test_client()  # the same person, logged in elsewhere
    assert login(other, "ada@example.com", PASSWORD).status_code == 302
    data = {"current": "not it at all", "password": NEW, "confirm": NEW}
    wrong = post_form(client, "/account/password", data, page="/account")
    assert wrong.status_code == 400
    assert _error_beside(wrong.get_data(as_text=True), "current") == (
        "This is not your current password."
    )
    short = post_form(
        client, "/account/password", {**data, "current": PASSWORD, "password": "short"}, "/account"
    )
    assert "Too short: this has 5 characters, 10 are needed." in short.get_data(as_text=True)
    differ = post_form(
        client,
        "/account/password",
        {**data, "current": PASSWORD, "confirm": NEW + "!"},
        "/account",
    )
    assert "The passwords differ." in differ.get_data(as_text=True)

    done = post_form(client, "/account/password", {**data, "current": PASSWORD}, page="/account")
    assert done.status_code == 302 and done.headers["Location"] == "/account"
    assert "every other session of yours has ended" in client.get("/account").get_data(
        as_text=True
    )
    assert other.get("/account").status_code == 302  # logged out there
    fresh = app.test_client()
    assert login(fresh, "ada@example.com", PASSWORD).status_code == 401
    assert login(fresh, "ada@example.com", NEW).status_code == 302


def test_a_new_password_with_a_control_character_is_refused(app, client, login, db):
    _owner(client, login)
    for bad in ("abcdefghij\x00k", "abcdefghij\tk", "abcdefghij\x7fk"):
        data = {"current": PASSWORD, "password": bad, "confirm": bad}
        refused = post_form(client, "/account/password", data, page="/account")
        assert refused.status_code == 400
        assert "control character" in _error_beside(refused.get_data(as_text=True), "password")
    assert login(app.test_client(), "ada@example.com", PASSWORD).status_code == 302


def test_guessing_the_current_password_is_limited_like_a_login(app, client, login):
    _owner(client, login)
    data = {"current": "guess", "password": NEW, "confirm": NEW}
    answers = [
        post_form(client, "/account/password", data, page="/account").status_code for _ in range(7)
    ]
    assert answers[:5] == [400] * 5 and answers[5:] == [429, 429]
    right = post_form(client, "/account/password", {**data, "current": PASSWORD}, "/account")
    assert right.status_code == 429  # still refused within the window, even when right
