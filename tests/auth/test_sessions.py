"""Sessions: new ones at log-in, ending them everywhere, and the headers pages send."""

from __future__ import annotations

from sqlalchemy import update

from factories import PASSWORD, make_owner
from helpers import CSRF_RE, post_form
from portal.models import User
from portal.services import accounts


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


def test_in_production_browsers_are_told_to_use_https_only(app, client, monkeypatch):
    assert "Strict-Transport-Security" not in client.get("/login").headers  # http in testing
    monkeypatch.setitem(app.config, "SESSION_COOKIE_SECURE", True)  # as production sets it
    assert client.get("/login").headers["Strict-Transport-Security"] == "max-age=31536000"


def test_a_login_id_with_a_wrong_or_odd_token_opens_nothing(app, db):
    owner = make_owner(email="lo@example.com")
    with app.app_context():
        assert accounts.load_user(owner.get_id()).id == owner.id
        for forged in (f"{owner.id}:wrong", f"{owner.id}:é", f"{owner.id}:", "x:y"):
            assert accounts.load_user(forged) is None
