"""Throttling failed log-ins and sign-ups per address, per source and under a flood."""

from __future__ import annotations

import base64

from sqlalchemy import func, select

from factories import PASSWORD, make_owner
from helpers import csrf_token, post_form, run_in_threads
from portal.models import Merchant, ThrottleHit
from portal.services import accounts, login_limits
from auth_kit import SIGNUP


def hits(db, key: str) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(ThrottleHit).where(ThrottleHit.key == key))


def test_too_many_failures_for_an_address_refuse_even_the_right_password(client, db, login):
    make_owner(email="di@example.com")
    for _ in range(login_limits.MAX_FAILURES_PER_EMAIL):
        assert login(client, "di@example.com", "guess guess guess").status_code == 401
    blocked = login(client, "di@example.com", PASSWORD)
    assert blocked.status_code == 429
    assert "Too many failed attempts for this address" in blocked.get_data(as_text=True)
    assert client.get("/team/").status_code == 302  # still not signed in
    # A refused attempt is uncounted: the lockout ends a window after the last failure.
    key = "login-email:di@example.com|127.0.0.1"
    assert hits(db, key) == login_limits.MAX_FAILURES_PER_EMAIL


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
    assert hits(db, "signup-ip:198.51.100.77") == 2  # the refused one is uncounted
    assert post_form(_from(app, "203.0.113.8"), "/signup", SIGNUP).status_code == 302
