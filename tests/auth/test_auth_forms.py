"""Forms under CSRF and hostile input: refusals and errors explained in words, never a 500."""

from __future__ import annotations

import io
import re

import pytest
from sqlalchemy import func, select

from factories import PASSWORD, make_owner
from helpers import csrf_token, post_form
from portal.models import User
from auth_kit import SIGNUP


def test_post_without_csrf_token_is_refused_and_changes_nothing(client, db):
    response = client.post("/signup", data=SIGNUP)
    assert response.status_code == 400
    assert "That form could not be accepted" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(User)) == 0


HOSTILE = [
    "\x00",
    "a\x00b@example.com",
    "x" * 5000,
    "=?utf-8?q?=0D=0A?=",
    "\r\n",
    "é" * 300,
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "%00",
    "\u2028",
    "a@b",
]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_form_values_get_an_answer_never_a_500(app, value):
    forms = {
        "/signup": ("business_name", "name", "email", "password", "confirm"),
        "/login": ("email", "password"),
    }
    for path, fields in forms.items():
        for field in fields:
            client = app.test_client()
            base = {name: "ok value here" for name in fields}
            response = client.post(
                path,
                data={**base, field: value, "csrf_token": csrf_token(client, path)},
                query_string={"next": value},
            )
            assert response.status_code < 500, (path, field, value, response.status_code)


def test_form_bodies_that_are_not_utf8_get_an_answer_never_a_500(app):
    for path, fields in {
        "/signup": ("business_name", "email"),
        "/login": ("email", "password"),
    }.items():
        for field in fields:
            client = app.test_client()
            body = f"csrf_token={csrf_token(client, path)}&{field}=%ED%A0%80%FF&password=x"
            response = client.post(
                path + "?next=%ED%A0%80",
                data=body.encode(),
                content_type="application/x-www-form-urlencoded",
            )
            assert response.status_code < 500, (path, field, response.status_code)


@pytest.mark.parametrize("path", ["/login", "/signup", "/password/forgot"])
def test_a_text_field_sent_as_a_file_is_refused_in_words(client, path):
    token = csrf_token(client, path)
    data = {
        "csrf_token": token,
        "password": "whatever it is",
        "email": (io.BytesIO(b"a@example.com"), "email.txt"),
    }
    response = client.post(path, data=data, content_type="multipart/form-data")
    assert response.status_code == 400
    assert "It carried a file where this page takes only text." in response.get_data(as_text=True)


@pytest.mark.parametrize(
    "path, data, messages",
    [
        (
            "/signup",
            {"business_name": "", "email": "", "password": "", "confirm": ""},
            [
                "Enter your business name.",
                "Enter an email address.",
                "Choose a password.",
                "Type the password again.",
            ],
        ),
        ("/signup", {**SIGNUP, "email": "ada@"}, ["Enter a complete email address"]),
        ("/signup", {**SIGNUP, "email": "zoë@example.com"}, ["Use an address in plain ASCII"]),
        (
            "/login",
            {"email": "", "password": ""},
            ["Enter an email address.", "Enter your password."],
        ),
        ("/password/forgot", {"email": "nope"}, ["Enter a complete email address"]),
        (
            "/login",
            {"email": "a@example.com", "password": "x" * 257},
            ["Passwords here have at most 256 characters."],
        ),
    ],
)
def test_empty_or_wrong_fields_are_explained_in_words(client, db, path, data, messages):
    page = post_form(client, path, data).get_data(as_text=True)
    for message in messages:
        assert message in page
    assert "This field is required" not in page and "Invalid email address" not in page
    assert "Field cannot be longer" not in page


def test_a_post_without_a_session_leads_back_to_the_forms_page(client, db):
    """A session can end while a form is open: the login page then leads back to the page
    that holds the form, not to the form's address (which only takes posts)."""
    token = csrf_token(client, "/login")
    back = {"Referer": "http://localhost/settings"}
    response = client.post("/settings/enable", data={"csrf_token": token}, headers=back)
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/settings"
    elsewhere = {"Referer": "https://evil.example/settings"}
    response = client.post("/settings/enable", data={"csrf_token": token}, headers=elsewhere)
    assert response.headers["Location"] == "/login"
    htmx = {"HX-Request": "true", "HX-Current-URL": "http://localhost/email/1"}
    response = client.post("/email/1/preview", data={"csrf_token": token}, headers=htmx)
    assert response.status_code == 400 and "session that has ended" in response.get_data(
        as_text=True
    )  # words in place: the page, and what was typed in it, stay
    response = client.get("/email/tests?step=1", headers=htmx)  # a poll: the tab may go
    assert response.status_code == 401 and response.get_data() == b""
    assert response.headers["HX-Redirect"] == "/login?next=/email/tests?step%3D1"
    assert client.get("/payments/?days=7").headers["Location"] == (
        "/login?next=/payments/?days%3D7"
    )


def test_a_stale_form_sent_by_htmx_gets_words_not_a_page(client, login, db):
    make_owner(email="ada@example.com")
    login(client, "ada@example.com", PASSWORD)
    htmx = {"HX-Request": "true"}
    response = client.post("/email/1/preview", data={"csrf_token": "stale"}, headers=htmx)
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "session that has ended" in text
    assert "<html" not in text


def test_a_form_body_over_the_limit_gets_the_portals_page(client, login, db):
    make_owner(email="ada@example.com")
    login(client, "ada@example.com", PASSWORD)
    data = {"csrf_token": csrf_token(client, "/settings"), "postal_address": "x" * 3_000_000}
    response = client.post("/settings", data=data)
    assert response.status_code == 413 and "Too much at once" in response.get_data(as_text=True)


def test_a_form_from_a_session_that_ended_leads_to_log_in_and_back(client, login, db):
    """Logged out in another tab: the open page's form token went with the session."""
    make_owner(email="ada@example.com")
    login(client, "ada@example.com", PASSWORD)
    token = csrf_token(client, "/settings")
    client.post("/logout", data={"csrf_token": token})
    back = {"Referer": "http://localhost/settings"}
    response = client.post("/settings/enable", data={"csrf_token": token}, headers=back)
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/settings"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Your session had ended, so nothing was saved" in page
    # htmx (the editor's live preview): words in place, the typed page stays.
    htmx = {"HX-Request": "true"}
    fragment = client.post("/email/1/preview", data={"csrf_token": token}, headers=htmx)
    assert fragment.status_code == 400 and "session that has ended" in fragment.get_data(
        as_text=True
    )
    # A public form keeps the plain refusal page.
    refused = client.post("/login", data={"csrf_token": "stale", "email": "a@b.co"})
    assert refused.status_code == 400 and "could not be accepted" in refused.get_data(as_text=True)


def test_a_log_out_in_another_browser_ends_this_ones_forms_in_words(app, client, login, db):
    """Logging out ends every session of the user: another browser's open form still holds a
    valid form token, but no session any more."""
    make_owner(email="ada@example.com")
    other = app.test_client()
    login(client, "ada@example.com", PASSWORD)
    login(other, "ada@example.com", PASSWORD)
    token = csrf_token(other, "/settings")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    back = {"Referer": "http://localhost/settings"}
    response = other.post("/settings", data={"csrf_token": token}, headers=back)
    assert response.headers["Location"] == "/login?next=/settings"
    assert "Your session had ended, so nothing was saved" in other.get("/login").get_data(
        as_text=True
    )
    htmx = {"HX-Request": "true"}
    fragment = other.post("/email/1/preview", data={"csrf_token": token}, headers=htmx)
    assert fragment.status_code == 400 and "<html" not in fragment.get_data(as_text=True)


def test_a_fields_errors_are_tied_to_it_for_screen_readers(client, db):
    page = post_form(client, "/login", {"email": "", "password": ""}).get_data(as_text=True)
    for name in ("email", "password"):
        field = re.search(rf'<input[^>]*id="{name}"[^>]*>', page).group()
        assert 'aria-invalid="true"' in field and f'aria-describedby="{name}-error"' in field
        assert f'<div class="errors" id="{name}-error">' in page
    hinted = post_form(client, "/signup", {**SIGNUP, "password": "short", "confirm": "short"})
    field = re.search(r'<input[^>]*id="password"[^>]*>', hinted.get_data(as_text=True)).group()
    assert 'aria-describedby="password-error password-hint"' in field  # the error first
