"""Password reset by email: the link sets a new password once, expires, and ends old sessions."""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import URLSafeSerializer

from factories import PASSWORD, make_owner
from helpers import csrf_token, post_form, run_in_threads
from portal.db import utcnow
from portal.models import User
from portal.services import accounts, password_reset
from password_reset_kit import NEUTRAL, NEW, forgot, reset_link, sent


def choose(client, path: str, password: str = NEW):
    return post_form(client, path, {"password": password, "confirm": password})


def test_the_login_page_links_to_the_reset(client):
    page = client.get("/login").get_data(as_text=True)
    assert "Forgot your password?" in page and 'href="/password/forgot"' in page
    assert client.get("/password/forgot").status_code == 200


def test_the_address_a_failed_login_was_given_goes_on_to_the_reset_page(client):
    failed = post_form(client, "/login", {"email": "kim+tea@example.com", "password": "nope"})
    link = '<a href="/password/forgot?email=kim%2Btea@example.com">Forgot your password?</a>'
    assert link in failed.get_data(as_text=True)
    page = client.get("/password/forgot?email=kim%2Btea%40example.com").get_data(as_text=True)
    assert 'value="kim+tea@example.com"' in page
    hostile = client.get('/password/forgot?email="><script>x</script>').get_data(as_text=True)
    assert "<script>x" not in hostile  # escaped into the field's value


def test_a_reset_link_by_email_sets_a_new_password_and_signs_in(app, client, login, db):
    owner = make_owner(name="Acme Tea", email="ada@example.com")
    answer = forgot(client, "ADA@example.com ")
    assert answer.status_code == 200 and NEUTRAL in answer.get_data(as_text=True)
    # No mail server here (testing): the page says the email does not leave the portal.
    assert "No mail server is set up on this portal" in answer.get_data(as_text=True)
    assert "spam folder" not in answer.get_data(as_text=True)  # nothing was emailed
    [message] = sent(db)
    assert message["To"].addresses[0].addr_spec == "ada@example.com"
    assert message["From"].addresses[0].addr_spec == "no-reply@localhost"
    assert message["Subject"] == "Reset your Cart Recovery password"
    text = message.get_body(("plain",)).get_content()
    assert "Acme Tea" in text and "expires in 1 hour" in text
    path = reset_link(message)

    browser = app.test_client()
    assert browser.get(path).status_code == 200
    done = choose(browser, path)
    assert done.status_code == 302 and done.headers["Location"] == "/"
    assert browser.get("/team/").status_code == 200  # signed in
    assert browser.get_cookie("known_device") is not None
    assert db.get(User, owner.id).last_login_at is not None
    assert login(app.test_client(), "ada@example.com", PASSWORD).status_code == 401
    assert login(app.test_client(), "ada@example.com", NEW).status_code == 302


def test_a_reset_link_works_once(app, client, db):
    make_owner(email="once@example.com")
    forgot(client, "once@example.com")
    path = reset_link(sent(db)[0])
    opened_earlier = app.test_client()
    token = csrf_token(opened_earlier, path)
    signed_in = app.test_client()
    assert choose(signed_in, path).status_code == 302
    again = app.test_client().get(path)
    assert again.status_code == 410 and "has been used" in again.get_data(as_text=True)
    own = signed_in.get(path).get_data(as_text=True)  # not offered to log in: they are
    assert "You are logged in as once@example.com" in own and ">Log in<" not in own
    data = {"password": "another password!", "confirm": "another password!", "csrf_token": token}
    assert opened_earlier.post(path, data=data).status_code == 410


def test_a_password_changed_another_way_kills_the_link(app, client, db):
    owner = make_owner(email="changed@example.com")
    forgot(client, "changed@example.com")
    path = reset_link(sent(db)[0])
    accounts.set_password(db.get(User, owner.id), "changed in the meantime")
    db.commit()
    assert app.test_client().get(path).status_code == 410


def test_a_reset_ends_every_old_session(app, client, login, db):
    make_owner(email="thief@example.com")
    stolen = app.test_client()
    login(stolen, "thief@example.com", PASSWORD, remember="y")
    assert stolen.get("/team/").status_code == 200
    forgot(client, "thief@example.com")
    assert choose(app.test_client(), reset_link(sent(db)[0])).status_code == 302
    assert stolen.get("/team/").status_code == 302  # session and remember-me cookie both dead


def test_an_unknown_address_gets_the_same_answer_and_no_email(client, db):
    make_owner(email="known@example.com")
    unknown = forgot(client, "nobody@example.com")
    known = forgot(client, "known@example.com")
    assert unknown.status_code == known.status_code == 200
    assert unknown.get_data(as_text=True) == known.get_data(as_text=True)
    assert [m["To"].addresses[0].addr_spec for m in sent(db)] == ["known@example.com"]


def test_an_expired_link_is_refused(app, client, db, monkeypatch):
    make_owner(email="slow@example.com")
    forgot(client, "slow@example.com")
    path = reset_link(sent(db)[0])
    later = utcnow() + password_reset.LIFETIME + timedelta(seconds=5)
    monkeypatch.setattr(password_reset, "utcnow", lambda: later)
    page = app.test_client().get(path)
    assert page.status_code == 410 and "has expired" in page.get_data(as_text=True)


def test_forged_or_cut_links_are_not_found(app, client, db):
    owner = make_owner(email="real@example.com")
    forgot(client, "real@example.com")
    path = reset_link(sent(db)[0])
    stamp = int(utcnow().timestamp())
    forged = URLSafeSerializer("not our key", salt="portal.password-reset").dumps(
        {"u": owner.id, "t": stamp, "p": "0" * 32}
    )
    wrong_user = URLSafeSerializer(app.config["SECRET_KEY"], salt="portal.password-reset").dumps(
        {"u": 999999, "t": stamp, "p": "0" * 32}
    )
    for bad in (path[:-4], "/password/reset/nonsense", f"/password/reset/{forged}"):
        response = app.test_client().get(bad)
        assert response.status_code == 404, bad
        assert "does not work" in response.get_data(as_text=True)
    assert app.test_client().get(f"/password/reset/{wrong_user}").status_code == 404
    assert choose(app.test_client(), path).status_code == 302  # the real one still works


def test_the_reset_form_shows_errors_beside_the_field_and_the_link_survives(app, client, db):
    make_owner(email="typo@example.com")
    forgot(client, "typo@example.com")
    path = reset_link(sent(db)[0])
    browser = app.test_client()
    short = choose(browser, path, "short")
    assert short.status_code == 400 and "Too short: this has 5 characters" in short.get_data(
        as_text=True
    )
    differ = post_form(browser, path, {"password": NEW, "confirm": NEW + "!"})
    assert differ.status_code == 400 and "The passwords differ." in differ.get_data(as_text=True)
    assert choose(browser, path).status_code == 302


def test_two_uses_of_one_link_at_once_change_the_password_once(app, client, db):
    make_owner(email="race@example.com")
    forgot(client, "race@example.com")
    path = reset_link(sent(db)[0])
    browsers = [app.test_client() for _ in range(6)]
    tokens = [csrf_token(browser, path) for browser in browsers]
    statuses = []

    def use(n: int) -> None:
        password = f"racing password {n}"
        data = {"password": password, "confirm": password, "csrf_token": tokens[n]}
        statuses.append((browsers[n].post(path, data=data).status_code, password))

    assert run_in_threads(use, len(browsers)) == []
    [winner] = [password for status, password in statuses if status == 302]
    assert accounts.authenticate("race@example.com", winner) is not None
    statuses = [status for status, _ in statuses]
    # SQLite refuses a writer that read first while another wrote (503: try again); never twice.
    losers = {410} if db.get_bind().dialect.name == "postgresql" else {410, 503}
    assert set(statuses) - {302} <= losers, statuses


def test_a_reset_ends_the_lockout_of_its_address_but_not_of_others(app, client, login, db):
    make_owner(name="Acme Tea", email="ada@example.com")
    make_owner(name="Bean Co", email="bo@example.com")
    for address in ("ada@example.com", "bo@example.com"):
        for _ in range(6):  # one more than the limit from this source
            login(app.test_client(), address, "wrong password")
        locked = login(app.test_client(), address, PASSWORD)
        assert "Too many failed attempts for this address" in locked.get_data(as_text=True)
    forgot(client, "ada@example.com")
    [message] = sent(db)
    assert choose(app.test_client(), reset_link(message)).status_code == 302
    # Another device, the same network: the new password opens the account at once.
    assert login(app.test_client(), "ada@example.com", NEW).status_code == 302
    still = login(app.test_client(), "bo@example.com", PASSWORD)
    assert "Too many failed attempts for this address" in still.get_data(as_text=True)
