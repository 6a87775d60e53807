"""Password reset by email, through real requests with CSRF on; each link is read out of the
message the development outbox kept."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from email import message_from_string, policy

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select, update

from factories import PASSWORD, make_owner
from helpers import csrf_token, post_form, run_in_threads
from portal import jobs, worker
from portal.db import utcnow
from portal.extensions import connect_redis, rq
from portal.mail import delivery
from portal.models import OutboxMessage, User
from portal.services import account_emails, accounts, password_reset
from smtp_sink import SmtpSink

NEW = "a brand new password"
LINK = re.compile(r"https?://[^/\s]+(/password/reset/[^\s<>\"]+)")
NEUTRAL = "If an account exists for that address, we sent a link"


def sent(db) -> list:
    rows = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    return [message_from_string(row.raw, policy=policy.default) for row in rows]


def reset_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    path = LINK.search(text).group(1)
    assert path in message.get_body(("html",)).get_content()
    return path


def forgot(client, email: str):
    """Ask for a link, following the redirect to the answer page; then a worker sends it."""
    answer = post_form(client, "/password/forgot", {"email": email}, follow_redirects=True)
    worker.run(client.application, rq.connection, [rq.queue("mail")], burst=True)
    return answer


def choose(client, path: str, password: str = NEW):
    return post_form(client, path, {"password": password, "confirm": password})


def test_the_login_page_links_to_the_reset(client):
    page = client.get("/login").get_data(as_text=True)
    assert "Forgot your password?" in page and 'href="/password/forgot"' in page
    assert client.get("/password/forgot").status_code == 200


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


def test_requests_for_one_address_are_limited_quietly(client, db, monkeypatch):
    monkeypatch.setattr(password_reset, "MAX_PER_ADDRESS", 2)
    make_owner(email="flood@example.com")
    answers = [forgot(client, "flood@example.com") for _ in range(4)]
    assert {a.status_code for a in answers} == {200}
    assert all(NEUTRAL in a.get_data(as_text=True) for a in answers)
    assert len(sent(db)) == 2


def test_requests_from_one_source_are_limited(app, db, monkeypatch):
    monkeypatch.setattr(password_reset, "MAX_PER_SOURCE", 3)
    make_owner(email="victim@example.com")
    sweeper = app.test_client()
    sweeper.environ_base["REMOTE_ADDR"] = "198.51.100.4"
    for n in range(3):
        assert forgot(sweeper, f"guess{n}@example.com").status_code == 200
    refused = post_form(sweeper, "/password/forgot", {"email": "victim@example.com"})
    assert refused.status_code == 429
    assert "Too many requests from your network" in refused.get_data(as_text=True)
    assert sent(db) == []
    elsewhere = app.test_client()
    elsewhere.environ_base["REMOTE_ADDR"] = "203.0.113.9"
    assert NEUTRAL in forgot(elsewhere, "victim@example.com").get_data(as_text=True)
    assert len(sent(db)) == 1


def test_an_account_we_cannot_email_gets_the_same_answer(client, db):
    owner = make_owner(email="ascii@example.com")
    db.execute(update(User).where(User.id == owner.id).values(email="zoë@example.com"))
    db.commit()
    assert NEUTRAL in forgot(client, "zoë@example.com").get_data(as_text=True)
    assert sent(db) == []


def test_the_request_form_refuses_a_bad_address_beside_the_field(client, db):
    response = post_form(client, "/password/forgot", {"email": "not an address"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and 'class="field has-error"' in page
    assert client.post("/password/forgot", data={"email": "a@example.com"}).status_code == 400
    assert db.scalar(select(func.count()).select_from(OutboxMessage)) == 0


@pytest.mark.parametrize("value", ["\x00", "x" * 5000, "\r\n", "é" * 300, "%00", "\u2028"])
def test_hostile_values_get_an_answer_never_a_500(app, client, db, value):
    make_owner(email="h@example.com")
    assert forgot(app.test_client(), value).status_code < 500
    forgot(client, "h@example.com")
    path = reset_link(sent(db)[0])
    for field in ("password", "confirm"):
        data = {"password": NEW, "confirm": NEW, field: value}
        assert post_form(app.test_client(), path, data).status_code < 500, field
    assert app.test_client().get("/password/reset/" + value).status_code < 500


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


def test_links_asked_for_at_once_are_all_queued_and_go_out_over_smtp(app, db, monkeypatch):
    emails = [make_owner(email=f"many{n}@example.com").email for n in range(8)]
    browsers = [app.test_client() for _ in emails]
    tokens = [csrf_token(browser, "/password/forgot") for browser in browsers]

    def ask(n: int) -> None:
        data = {"email": emails[n], "csrf_token": tokens[n]}
        assert browsers[n].post("/password/forgot", data=data).status_code == 303

    with SmtpSink() as sink:
        monkeypatch.setitem(app.config, "SMTP_URL", sink.url())
        try:
            assert run_in_threads(ask, len(emails)) == []
            worker.run(app, rq.connection, [rq.queue("mail")], burst=True)
            received = sink.wait_for(len(emails))
        finally:
            delivery.close_all()
    assert sorted(r.rcpt_tos[0] for r in received) == sorted(emails)
    assert all(LINK.search(r.message.get_body(("plain",)).get_content()) for r in received)


def test_in_development_without_smtp_the_link_is_in_the_log(app, client, db, monkeypatch):
    make_owner(name="Acme Tea", email="ada@example.com")
    logged = []
    monkeypatch.setitem(app.config, "PORTAL_ENV", "development")
    monkeypatch.setattr(app.logger, "warning", lambda *args: logged.append(args[0] % args[1:]))
    forgot(client, "ada@example.com")
    [message] = sent(db)
    assert any(reset_link(message) in line and "ada@example.com" in line for line in logged)
    logged.clear()
    monkeypatch.setitem(app.config, "PORTAL_ENV", "testing")  # anywhere else: never logged
    forgot(client, "ada@example.com")
    assert logged == []


def test_without_redis_the_link_is_sent_by_the_request_itself(client, db, monkeypatch):
    make_owner(email="ada@example.com")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nobody listens on it once closed
    monkeypatch.setattr(rq, "connection", connect_redis(f"redis://127.0.0.1:{port}/0"))
    answer = post_form(client, "/password/forgot", {"email": "ada@example.com"})
    assert answer.status_code == 303
    assert [m["To"].addresses[0].addr_spec for m in sent(db)] == ["ada@example.com"]


def test_a_link_the_mail_server_defers_is_tried_again(app, db, monkeypatch):
    make_owner(email="ada@example.com")
    with SmtpSink() as sink:
        monkeypatch.setitem(app.config, "SMTP_URL", sink.url())
        try:
            sink.tempfail_rcpt = 1  # "451 4.3.0 try again later", once
            with app.app_context(), pytest.raises(account_emails.Deferred):
                jobs.send_password_reset("ada@example.com")
            with app.app_context():  # RQ's retry (RESET_RETRY), a minute later
                assert jobs.send_password_reset("ada@example.com") is True
            [received] = sink.wait_for(1)
        finally:
            delivery.close_all()
    assert list(received.rcpt_tos) == ["ada@example.com"]
    assert jobs.RESET_RETRY.max == 3
