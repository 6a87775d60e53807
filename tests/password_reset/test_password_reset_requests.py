"""Asking for a reset link: limits, unknown addresses, hostile values, and how the link is sent."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import func, select, update

from factories import make_owner
from helpers import csrf_token, post_form, run_in_threads
from portal import jobs, worker
from portal.extensions import connect_redis, rq
from portal.mail import delivery
from portal.models import OutboxMessage, ThrottleHit, User
from portal.services import account_emails, password_reset
from smtp_sink import SmtpSink
from password_reset_kit import LINK, NEUTRAL, NEW, forgot, reset_link, sent


def hits(db, key: str) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(ThrottleHit).where(ThrottleHit.key == key))


def test_requests_for_one_address_are_limited_quietly(client, db, monkeypatch):
    monkeypatch.setattr(password_reset, "MAX_PER_ADDRESS", 2)
    make_owner(email="flood@example.com")
    answers = [forgot(client, "flood@example.com") for _ in range(4)]
    assert {a.status_code for a in answers} == {200}
    assert all(NEUTRAL in a.get_data(as_text=True) for a in answers)
    assert len(sent(db)) == 2
    assert hits(db, "reset-address:flood@example.com") == 2  # the quiet ones are uncounted


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
    assert hits(db, "reset-source:198.51.100.4") == 3  # the refused one is uncounted
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
