"""Team invitations: the link makes a member once, expires, can be revoked or replaced."""

from __future__ import annotations

from datetime import timedelta

from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select, update

from helpers import csrf_token, post_form
from portal.db import utcnow
from portal.models import Invitation, User
from portal.services import invitations
from team_kit import NEW_PASSWORD, accept, invite, invite_link, outbox, signed_in_owner


def test_without_a_mail_server_the_inviter_is_shown_the_link_once(
    app, client, login, db, monkeypatch
):
    def words() -> str:
        return " ".join(client.get("/team/").get_data(as_text=True).split())

    signed_in_owner(client, login)
    monkeypatch.setitem(app.config, "SMTP_URL", "")
    assert "invitations are not emailed" in words()
    assert invite(client, "nia@example.com", "Nia").status_code == 303
    shown = words()
    assert "Send this link to nia@example.com</h2> <p>No mail server is set up, so send" in shown
    assert 'data-copy="invitation-link"' in shown
    [message] = outbox(db, "nia@example.com")
    assert invite_link(message) in shown  # the same link the email would carry
    assert invite_link(message) not in words()  # shown once
    monkeypatch.setitem(app.config, "SMTP_URL", "smtp://mail.example:587")
    assert "not emailed" not in words()


def test_an_invitation_makes_a_signed_in_member(app, client, login, db):
    owner = signed_in_owner(client, login, name="Acme Tea", email="ada@example.com")
    db.execute(update(User).where(User.id == owner.id).values(name="Ada"))
    db.commit()
    response = invite(client, "Nia@Example.com ", "Nia")
    assert response.status_code == 303
    team = client.get("/team/").get_data(as_text=True)
    assert "Invitation created." in team and "nia@example.com" in team.split("<h1>")[1]
    [message] = outbox(db, "nia@example.com")
    assert message["Subject"] == "Ada invited you to join Acme Tea on Cart Recovery"
    assert message["From"].addresses[0].addr_spec == "no-reply@localhost"
    assert message["Message-ID"].endswith("@localhost>")
    path = invite_link(message)

    invitee = app.test_client()
    page = invitee.get(path)
    assert page.status_code == 200 and "Join Acme Tea" in page.get_data(as_text=True)
    assert "nia@example.com" in page.get_data(as_text=True)
    joined = accept(invitee, path)
    assert joined.status_code == 302 and joined.headers["Location"] == "/"
    assert invitee.get_cookie("known_device") is not None
    member = db.scalar(select(User).where(User.email == "nia@example.com"))
    assert (member.role, member.name, member.merchant_id) == ("member", "Nia", owner.merchant_id)
    assert member.last_login_at is not None
    team = invitee.get("/team/").get_data(as_text=True)
    assert "Member" in team and "never" not in team  # both have logged in
    assert "Invite a teammate" not in team
    assert db.scalar(select(Invitation.accepted_at)) is not None


def test_an_invitation_link_works_once(app, client, login, db):
    signed_in_owner(client, login)
    invite(client, "once@example.com")
    path = invite_link(outbox(db)[0])
    opened_earlier = app.test_client()
    token = csrf_token(opened_earlier, path)
    assert accept(app.test_client(), path).status_code == 302
    used = app.test_client().get(path)
    assert used.status_code == 410 and "has been used" in used.get_data(as_text=True)
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token}
    assert opened_earlier.post(path, data=data).status_code == 410
    assert db.scalar(select(func.count()).select_from(User)) == 2


def test_an_expired_invitation_is_refused(app, client, login, db, monkeypatch):
    signed_in_owner(client, login)
    invite(client, "late@example.com")
    client.get("/team/")  # where its link was shown, once
    path = invite_link(outbox(db)[0])
    later = utcnow() + invitations.LIFETIME + timedelta(minutes=1)
    monkeypatch.setattr(invitations, "utcnow", lambda: later)
    late = app.test_client()
    page = late.get(path)
    assert page.status_code == 410 and "has expired" in page.get_data(as_text=True)
    monkeypatch.undo()  # a form fetched in time, posted too late: refused
    form_page = app.test_client()
    token = csrf_token(form_page, path)
    db.execute(update(Invitation).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.commit()
    data = {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "csrf_token": token}
    assert form_page.post(path, data=data).status_code == 410
    assert db.scalar(select(func.count()).select_from(User)) == 1
    team = client.get("/team/").get_data(as_text=True).split("<h1>")[1]  # after the flash
    assert "late@example.com" not in team


def test_a_revoked_invitation_is_refused(app, client, login, db):
    signed_in_owner(client, login)
    invite(client, "gone@example.com")
    path = invite_link(outbox(db)[0])
    invitation = db.scalar(select(Invitation))
    page = client.get("/team/").get_data(as_text=True)
    assert "gone@example.com" in page and "Revoke" in page
    revoked = post_form(client, f"/team/invitations/{invitation.id}/revoke", {}, page="/team/")
    assert revoked.status_code == 303
    assert "gone@example.com" not in client.get("/team/").get_data(as_text=True).split("<h1>")[1]
    refused = app.test_client().get(path)
    assert refused.status_code == 410 and "withdrawn" in refused.get_data(as_text=True)


def test_inviting_again_replaces_the_earlier_link(app, client, login, db):
    signed_in_owner(client, login)
    invite(client, "twice@example.com")
    db.execute(update(Invitation).values(created_at=utcnow() - invitations.RESEND_AFTER))
    db.commit()  # a minute later: not a double click
    invite(client, "twice@example.com", "Second")
    first, second = (invite_link(m) for m in outbox(db))
    assert app.test_client().get(first).status_code == 410
    assert accept(app.test_client(), second).status_code == 302


def test_forged_or_cut_links_are_not_found(app, client, login, db):
    signed_in_owner(client, login)
    invite(client, "real@example.com")
    path = invite_link(outbox(db)[0])
    invitation_id = db.scalar(select(Invitation.id))
    wrong_nonce = URLSafeSerializer(app.config["SECRET_KEY"], salt="portal.invitation").dumps(
        {"i": invitation_id, "n": "guessed"}
    )
    other_key = URLSafeSerializer("another key", salt="portal.invitation").dumps(
        {"i": invitation_id, "n": "guessed"}
    )
    for bad in (path[:-3], "/invite/nonsense", f"/invite/{wrong_nonce}", f"/invite/{other_key}"):
        visitor = app.test_client()
        response = visitor.get(bad)
        assert response.status_code == 404, bad
        assert "does not work" in response.get_data(as_text=True)
        assert visitor.post(bad, data={}).status_code in (400, 404)  # no CSRF token: 400
    assert accept(app.test_client(), path).status_code == 302  # the real one still works
