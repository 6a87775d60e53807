"""Sending invitations over SMTP: failures, repeats moments apart, and two acceptances at once."""

from __future__ import annotations

from sqlalchemy import func, select, update

from helpers import csrf_token, run_in_threads
from portal.db import utcnow
from portal.mail import delivery
from portal.models import Invitation, User
from portal.services import invitations
from smtp_sink import SmtpSink
from team_kit import NEW_PASSWORD, accept, invite, invite_link, outbox, signed_in_owner


def test_a_second_invitation_to_one_address_moments_later_sends_nothing(client, login, db):
    signed_in_owner(client, login)
    first, second = invite(client, "nia@example.com"), invite(client, "Nia@example.com")
    assert first.status_code == second.status_code == 303
    page = client.get("/team/").get_data(as_text=True)
    assert "nia@example.com was invited moments ago: the invitation is listed below." in page
    assert len(outbox(db, to="nia@example.com")) == 1
    assert db.scalar(select(func.count()).select_from(Invitation)) == 1
    # A minute on, inviting again sends a new link and retires the old one.
    db.execute(update(Invitation).values(created_at=utcnow() - invitations.RESEND_AFTER))
    db.commit()
    assert invite(client, "nia@example.com").status_code == 303
    assert len(outbox(db, to="nia@example.com")) == 2
    assert [
        i.revoked_at is None for i in db.scalars(select(Invitation).order_by(Invitation.id))
    ] == [
        False,
        True,
    ]


def test_the_invitation_goes_out_over_smtp(app, client, login, db, monkeypatch):
    signed_in_owner(client, login, name="Sink Shop")
    with SmtpSink() as sink:
        monkeypatch.setitem(app.config, "SMTP_URL", sink.url())
        try:
            assert invite(client, "smtp@example.com", "Sam").status_code == 303
            [received] = sink.wait_for(1)
        finally:
            delivery.close_all()
    assert (
        received.rcpt_tos == ("smtp@example.com",) and received.mail_from == "no-reply@localhost"
    )
    assert "Sink Shop" in received.message["Subject"]
    assert outbox(db) == []
    path = invite_link(received.message)
    assert accept(app.test_client(), path, name="Sam").status_code == 302


def test_a_failed_send_withdraws_the_invitation(app, client, login, db, monkeypatch):
    signed_in_owner(client, login)
    with SmtpSink() as sink:
        sink.rcpt_reply = "550 5.1.1 no such user"
        monkeypatch.setitem(app.config, "SMTP_URL", sink.url())
        try:
            response = invite(client, "bounce@example.com")
        finally:
            delivery.close_all()
    assert response.status_code == 303
    page = client.get("/team/").get_data(as_text=True)
    assert "could not be sent" in page and "bounce@example.com" not in page.split("<h1>")[1]
    assert db.scalar(select(Invitation.revoked_at)) is not None


def test_two_acceptances_at_once_make_one_member(app, client, login, db):
    signed_in_owner(client, login)
    invite(client, "race@example.com")
    path = invite_link(outbox(db)[0])
    browsers = [app.test_client() for _ in range(6)]
    tokens = [csrf_token(browser, path) for browser in browsers]
    statuses = []

    def join(n: int) -> None:
        data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": tokens[n]}
        statuses.append(browsers[n].post(path, data=data).status_code)

    assert run_in_threads(join, len(browsers)) == []
    assert statuses.count(302) == 1
    # SQLite refuses a writer that read first while another wrote (503: try again); never twice.
    losers = {410} if db.get_bind().dialect.name == "postgresql" else {410, 503}
    assert set(statuses) - {302} <= losers, statuses
    assert db.scalar(select(func.count()).select_from(User).where(User.role == "member")) == 1
