"""Sign up, log in, log out, throttling, CSRF and session handling, through real requests."""

from __future__ import annotations

import base64
import io
import re

import pytest
from sqlalchemy import func, select, update

from factories import PASSWORD, make_owner
from helpers import CSRF_RE, csrf_token, post_form, run_in_threads
from portal.models import Merchant, User
from portal.services import accounts, login_limits

SIGNUP = {
    "business_name": "Acme Tea",
    "name": "Ada",
    "email": "Ada@Example.com",
    "password": "a long enough pass",
    "confirm": "a long enough pass",
}


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


def test_login_and_logout(client, login):
    owner = make_owner(email="bo@example.com")
    response = login(client, "BO@example.com ", PASSWORD)
    assert response.status_code == 302
    assert owner.merchant.name in client.get("/").get_data(as_text=True)
    assert client.get("/logout").status_code == 405  # GET must not log out (link prefetchers)
    out = post_form(client, "/logout", {}, page="/")
    assert out.status_code == 302 and out.headers["Location"] == "/login"
    assert client.get("/team/").status_code == 302


def test_wrong_password_and_unknown_address_get_the_same_refusal(client, login):
    make_owner(email="cy@example.com")
    wrong = login(client, "cy@example.com", "not the password")
    unknown = login(client, "nobody@example.com", "not the password")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Wrong email or password." in response.get_data(as_text=True)


def test_too_many_failures_for_an_address_refuse_even_the_right_password(client, login):
    make_owner(email="di@example.com")
    for _ in range(login_limits.MAX_FAILURES_PER_EMAIL):
        assert login(client, "di@example.com", "guess guess guess").status_code == 401
    blocked = login(client, "di@example.com", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed attempts for this address" in blocked.get_data(as_text=True)
    assert client.get("/team/").status_code == 302  # still not signed in


def test_too_many_failures_from_one_ip_refuse_other_addresses(app, client, login, monkeypatch):
    make_owner(email="ed@example.com")
    monkeypatch.setattr(login_limits, "MAX_FAILURES_PER_IP", 3)
    for n in range(3):
        login(client, f"stranger{n}@example.com", "guess guess guess")
    blocked = login(client, "ed@example.com", PASSWORD)
    assert blocked.status_code == 429 and "from your network" in blocked.get_data(as_text=True)
    elsewhere = post_form(
        app.test_client(),
        "/login",
        {"email": "ed@example.com", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "192.0.2.7"},
    )
    assert elsewhere.status_code == 302  # another network is not punished for this one


def test_success_clears_the_address_count(client, login):
    make_owner(email="fa@example.com")
    for _ in range(login_limits.MAX_FAILURES_PER_EMAIL - 1):
        login(client, "fa@example.com", "guess guess guess")
    assert login(client, "fa@example.com", PASSWORD).status_code == 302
    post_form(client, "/logout", {}, page="/")
    assert login(client, "fa@example.com", "guess guess guess").status_code == 401  # not 429


def test_post_without_csrf_token_is_refused_and_changes_nothing(client, db):
    response = client.post("/signup", data=SIGNUP)
    assert response.status_code == 400
    assert "That form could not be accepted" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(User)) == 0


def test_login_gives_a_new_session(client, login):
    make_owner(email="gi@example.com")
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker before login"
    login(client, "gi@example.com", PASSWORD)
    with client.session_transaction() as sess:
        assert "planted" not in sess and "_user_id" in sess


def test_password_change_elsewhere_signs_out_old_cookies(client, login, db):
    owner = make_owner(email="ha@example.com")
    login(client, "ha@example.com", PASSWORD)
    db.execute(update(User).where(User.id == owner.id).values(session_token="rotated"))
    db.commit()
    assert client.get("/team/").status_code == 302


def test_next_parameter_only_redirects_within_the_site(client):
    make_owner(email="io@example.com")
    token = csrf_token(client, "/login")
    data = {"email": "io@example.com", "password": PASSWORD, "csrf_token": token}
    assert client.post("/login?next=/team/", data=data).headers["Location"] == "/team/"
    post_form(client, "/logout", {}, page="/")
    data["csrf_token"] = csrf_token(client, "/login")
    assert client.post("/login?next=//evil.example", data=data).headers["Location"] == "/"


def test_next_parameter_survives_no_browser_normalisation(client):
    make_owner(email="jo@example.com")
    hostile = [
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "\t//evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "https://evil.example/",
        "/ /evil.example",
        "javascript:alert(1)",
        "/\x00/evil.example",
        "/\u2028/evil.example",
    ]
    for target in hostile:
        with client.application.test_client() as fresh:
            data = {
                "email": "jo@example.com",
                "password": PASSWORD,
                "csrf_token": csrf_token(fresh, "/login"),
            }
            response = fresh.post("/login", query_string={"next": target}, data=data)
            if "\x00" in target:  # a NUL in a query is refused in words, before any login
                assert response.status_code == 400 and "Location" not in response.headers
                continue
            assert (response.status_code, response.headers["Location"]) == (302, "/"), repr(target)


def test_logout_ends_the_session_and_the_remember_me_cookie_everywhere(app, client, login):
    make_owner(email="ka@example.com")
    login(client, "ka@example.com", PASSWORD, remember="y")
    copied = {c.key: c.value for c in client._cookies.values()}
    assert {"session", "remember_token"} <= set(copied)
    for name in ("session", "remember_token"):  # each copy alone opens the account before log-out
        thief = app.test_client()
        thief.set_cookie(name, copied[name])
        assert thief.get("/team/").status_code == 200, name
    post_form(client, "/logout", {}, page="/")
    for names in (("session",), ("remember_token",), ("session", "remember_token")):
        thief = app.test_client()
        for name in names:
            thief.set_cookie(name, copied[name])
        assert thief.get("/team/").status_code == 302, names  # sent to the login page


def test_a_password_change_ends_every_session(app, client, login, db):
    owner = make_owner(email="la@example.com")
    login(client, "la@example.com", PASSWORD, remember="y")
    assert client.get("/team/").status_code == 200
    accounts.set_password(db.get(User, owner.id), "a brand new password")
    db.commit()
    assert client.get("/team/").status_code == 302
    assert login(app.test_client(), "la@example.com", "a brand new password").status_code == 302


def test_simultaneous_wrong_passwords_are_checked_no_more_than_the_limit(app, db, monkeypatch):
    make_owner(email="ma@example.com")
    checked = []
    authenticate = accounts.authenticate  # wrapped only to count the password checks
    monkeypatch.setattr(
        accounts, "authenticate", lambda *a: (checked.append(1), authenticate(*a))[1]
    )
    clients = [app.test_client() for _ in range(40)]
    tokens = [csrf_token(c, "/login") for c in clients]
    statuses = []

    def attempt(n: int) -> None:
        response = clients[n].post(
            "/login",
            data={"email": "ma@example.com", "password": "guess guess", "csrf_token": tokens[n]},
        )
        statuses.append(response.status_code)

    assert run_in_threads(attempt, 40, timeout=60) == []
    assert len(checked) <= login_limits.MAX_FAILURES_PER_EMAIL
    # SQLite has one writer: some of 40 simultaneous writes find the database busy (503, retry).
    busy = statuses.count(503) if db.get_bind().dialect.name == "sqlite" else 0
    assert statuses.count(401) == len(checked) and statuses.count(429) == 40 - len(checked) - busy


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


def test_pages_ask_browsers_to_send_the_referer_to_this_site_only(client):
    make_owner(email="na@example.com")
    for path in ("/login", "/signup", "/u/not-a-token"):
        assert client.get(path).headers["Referrer-Policy"] == "same-origin", path
    https = {"base_url": "https://portal.example"}
    token = CSRF_RE.search(client.get("/login", **https).get_data(as_text=True)).group(1)
    data = {"email": "na@example.com", "password": PASSWORD, "csrf_token": token}
    refused = client.post("/login", data=data, **https)  # over https the Referer is required
    assert refused.status_code == 400
    signed_in = client.post(
        "/login", data=data, headers={"Referer": "https://portal.example/login"}, **https
    )
    assert signed_in.status_code == 302


def test_pages_and_downloads_are_never_cached_nor_framed_by_other_sites(client, login):
    make_owner(email="na@example.com")
    login(client, "na@example.com", PASSWORD)
    for path in ("/login", "/", "/settings", "/subscriptions/export.csv"):
        headers = client.get(path).headers
        assert headers["Cache-Control"] == "no-store", path
        assert headers["X-Frame-Options"] == "SAMEORIGIN", path
        policy = headers["Content-Security-Policy"]
        assert "frame-ancestors 'self'" in policy and "script-src 'self';" in policy, path
    static = client.get("/static/favicon.svg")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")


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


def _from(app, ip: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = ip
    return client


def test_an_attackers_failures_from_one_place_never_refuse_the_owner_elsewhere(app, login):
    make_owner(email="oz@example.com")
    attacker = _from(app, "198.51.100.9")
    for _ in range(login_limits.MAX_FAILURES_PER_EMAIL + 3):
        login(attacker, "oz@example.com", "guess guess guess")
    assert login(attacker, "oz@example.com", PASSWORD).status_code == 429
    assert login(_from(app, "203.0.113.5"), "oz@example.com", PASSWORD).status_code == 302


def test_a_flood_from_many_places_is_refused_but_not_on_a_device_that_logged_in_before(
    app, login, monkeypatch
):
    make_owner(email="pa@example.com")
    owner_browser = _from(app, "203.0.113.5")
    assert login(owner_browser, "pa@example.com", PASSWORD).status_code == 302
    post_form(owner_browser, "/logout", {}, page="/")
    monkeypatch.setattr(login_limits, "MAX_FAILURES_PER_ADDRESS", 6)
    for n in range(8):  # credential stuffing: each source tries once or twice
        login(_from(app, f"198.51.100.{n}"), "pa@example.com", "guess guess guess")
    refused = login(_from(app, "192.0.2.44"), "pa@example.com", PASSWORD)
    assert refused.status_code == 429 and "from many places" in refused.get_data(as_text=True)
    owner_browser.environ_base["REMOTE_ADDR"] = "192.0.2.45"  # the owner's laptop, elsewhere today
    assert login(owner_browser, "pa@example.com", PASSWORD).status_code == 302
    # The cookie that says so outlives a log-out, so it does not carry the address.
    cookie = owner_browser.get_cookie("known_device").value
    decoded = base64.urlsafe_b64decode(cookie.split(".")[0] + "==")
    assert b"pa@example" not in decoded and b"example.com" not in decoded


def test_sign_ups_are_limited_per_source(app, db, monkeypatch):
    monkeypatch.setattr(login_limits, "MAX_SIGNUPS_PER_IP", 2)
    answers = [  # each from a fresh browser at the same address: a signed-up one is signed in
        post_form(_from(app, "198.51.100.77"), "/signup", {**SIGNUP, "email": f"s{n}@example.com"})
        for n in range(3)
    ]
    assert [a.status_code for a in answers] == [302, 302, 429]
    assert "Too many sign-ups from your network" in answers[2].get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(Merchant)) == 2
    assert post_form(_from(app, "203.0.113.8"), "/signup", SIGNUP).status_code == 302


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
