"""The team: inviting a teammate by email, accepting, revoking, removing; through real requests
with CSRF on, each link read out of the real message (the development outbox, or an SMTP sink)."""

from __future__ import annotations

import html

import re
from datetime import timedelta
from email import message_from_string, policy

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select, update

from factories import PASSWORD, make_member, make_owner
from helpers import csrf_token, post_form, run_in_threads
from portal.db import utcnow
from portal.mail import delivery
from portal.models import Invitation, Merchant, OutboxMessage, User
from portal.services import invitations, throttle
from smtp_sink import SmtpSink

NEW_PASSWORD = "a teammate's own password"
LINK = re.compile(r"https?://[^/\s]+(/invite/[^\s<>\"]+)")


def outbox(db, to: str | None = None) -> list:
    """The messages kept in the development outbox (to `to`), parsed, oldest first."""
    rows = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    return [
        message_from_string(row.raw, policy=policy.default)
        for row in rows
        if to is None or row.to_address == to
    ]


def invite_link(message) -> str:
    """The invitation link's path, from the text part; the HTML part must carry the same."""
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    path = LINK.search(text).group(1)
    assert html.count(path) == 3, "the button, and the link written out (href and text)"
    return path


def invite(client, email: str, name: str = ""):
    return post_form(client, "/team/invitations", {"email": email, "name": name}, page="/team/")


def signed_in_owner(client, login, **owner):
    owner = make_owner(**owner)
    assert login(client, owner.email, PASSWORD).status_code == 302
    return owner


def accept(client, path: str, name: str = "Nia", password: str = NEW_PASSWORD):
    data = {"name": name, "password": password, "confirm": password}
    return post_form(client, path, data)


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


def test_inviting_an_address_with_an_account_is_refused_beside_the_field(client, login, db):
    signed_in_owner(client, login)
    make_owner(email="taken@example.com")
    response = invite(client, "Taken@example.com")
    page = response.get_data(as_text=True)
    assert (
        response.status_code == 400 and "one team only: invite another address of theirs." in page
    )
    assert 'class="field has-error"' in page
    assert outbox(db) == [] and db.scalar(select(func.count()).select_from(Invitation)) == 0


def test_inviting_yourself_or_a_teammate_says_so(client, login, db):
    owner = signed_in_owner(client, login)
    mate = make_member(owner.merchant_id, email="mate.here@example.com")
    mine = html.unescape(invite(client, owner.email.upper()).get_data(as_text=True))
    assert "That is your own address: you are on the team already." in mine
    theirs = html.unescape(invite(client, mate.email).get_data(as_text=True))
    assert "This address is on your team already: see the list below." in theirs
    assert db.scalar(select(func.count()).select_from(Invitation)) == 0


def test_an_invitation_refused_once_the_address_signed_up_on_its_own(app, client, login, db):
    signed_in_owner(client, login)
    invite(client, "quick@example.com")
    path = invite_link(outbox(db)[0])
    make_owner(email="quick@example.com")
    response = app.test_client().get(path)
    said = response.get_data(as_text=True)
    assert response.status_code == 409 and "already has an account" in said
    assert "invite another address" not in said  # that is for the one who invites


def test_invitation_form_refuses_bad_values_beside_the_field(client, login, db):
    signed_in_owner(client, login)
    for data, message in (
        ({"email": "not an address"}, "Enter a complete email address, like name@example.com."),
        ({"email": "a@example.com", "name": "Nia\r\nBcc: x@evil.example"}, "one line"),
        ({"email": "zoë@example.com"}, "plain ASCII"),
        ({"email": ""}, "Enter an email address."),
    ):
        response = post_form(client, "/team/invitations", data, page="/team/")
        page = response.get_data(as_text=True)
        assert response.status_code == 400 and message in page, data
        assert 'class="field has-error"' in page
    assert outbox(db) == []


def test_no_control_character_reaches_the_headers(client, login, db):
    owner = signed_in_owner(client, login)
    # Saved before names were checked: the email still goes out, on one line.
    db.execute(
        update(Merchant).where(Merchant.id == owner.merchant_id).values(name="Shop\r\nBcc: x@evil")
    )
    db.commit()
    assert invite(client, "safe@example.com").status_code == 303
    [message] = outbox(db)
    assert message["Bcc"] is None and "\n" not in message["Subject"]
    assert message["Subject"].endswith("join Shop Bcc: x@evil on Cart Recovery")


def test_members_see_the_team_but_cannot_change_it(app, login, db):
    owner = make_owner()
    member = make_member(owner.merchant_id, email="mo@example.com")
    invitation, _ = _invitation(app, owner, "pending@example.com")
    client = app.test_client()
    login(client, "mo@example.com", PASSWORD)
    page = client.get("/team/").get_data(as_text=True)
    assert "pending@example.com" in page and owner.email in page
    assert "Invite a teammate" not in page and "Revoke" not in page
    for path in (
        "/team/invitations",
        f"/team/invitations/{invitation.id}/revoke",
        f"/team/{owner.id}/remove",
        f"/team/{member.id}/remove",
    ):
        response = post_form(client, path, {"email": "x@example.com"}, page="/team/")
        assert response.status_code == 403, path
        assert "Only the owner can do this" in response.get_data(as_text=True)
    assert db.scalar(select(func.count()).select_from(User)) == 2
    assert db.scalar(select(Invitation.revoked_at)) is None and outbox(db) == []


def test_another_merchants_ids_are_not_found(app, client, login, db):
    signed_in_owner(client, login)
    other = make_owner()
    their_member = make_member(other.merchant_id)
    their_invitation, _ = _invitation(app, other, "theirs@example.com")
    for path in (
        f"/team/invitations/{their_invitation.id}/revoke",
        f"/team/{their_member.id}/remove",
        f"/team/{other.id}/remove",
    ):
        assert post_form(client, path, {}, page="/team/").status_code == 404, path
    assert client.get(f"/team/{their_member.id}").status_code == 404
    assert db.scalar(select(Invitation.revoked_at)) is None
    assert db.scalar(select(func.count()).select_from(User)) == 3


def test_the_owner_removes_a_member_whose_session_stops_working(app, client, login, db):
    owner = signed_in_owner(client, login)
    member = make_member(owner.merchant_id, email="leaving@example.com")
    theirs = app.test_client()
    login(theirs, "leaving@example.com", PASSWORD, remember="y")
    assert theirs.get("/team/").status_code == 200
    page = client.get(f"/team/{member.id}").get_data(as_text=True)
    assert "Remove from the team" in page
    # The button is behind a second step, folded: one stray click removes no one.
    folded = page.partition('<details class="disconnect">')[2].partition("</details>")[0]
    assert "<summary>Remove this member…</summary>" in folded
    assert "Yes, remove from the team" in folded
    removed = post_form(client, f"/team/{member.id}/remove", {}, page=f"/team/{member.id}")
    assert removed.status_code == 303
    assert "no longer on the team" in client.get("/team/").get_data(as_text=True)
    assert db.get(User, member.id) is None
    assert theirs.get("/team/").status_code == 302  # the session and remember-me cookie are dead
    assert login(app.test_client(), "leaving@example.com", PASSWORD).status_code == 401


def test_the_owner_cannot_remove_themself(client, login, db):
    owner = signed_in_owner(client, login)
    assert "Remove from the team" not in client.get(f"/team/{owner.id}").get_data(as_text=True)
    response = post_form(client, f"/team/{owner.id}/remove", {}, page="/team/")
    assert response.status_code == 303
    assert "cannot be removed" in client.get(f"/team/{owner.id}").get_data(as_text=True)
    assert db.get(User, owner.id) is not None


def test_team_page_says_never_for_a_member_who_never_logged_in(client, login):
    owner = signed_in_owner(client, login)
    make_member(owner.merchant_id, email="new@example.com")
    page = client.get("/team/").get_data(as_text=True)
    assert "Owner" in page and "Member" in page and "never" in page


def test_invitations_are_limited_per_merchant(app, client, login, db, monkeypatch):
    monkeypatch.setattr(invitations, "MAX_PER_MERCHANT", 2)
    signed_in_owner(client, login)
    answers = [invite(client, f"n{n}@example.com").status_code for n in range(3)]
    assert answers == [303, 303, 429]
    assert len(outbox(db)) == 2
    elsewhere = app.test_client()
    signed_in_owner(elsewhere, login)  # another merchant has its own allowance
    assert invite(elsewhere, "n9@example.com").status_code == 303


def test_one_address_gets_at_most_three_invitations_a_day_from_all_merchants(
    app, client, login, db
):
    clients = [client] + [app.test_client() for _ in range(3)]
    for n, each in enumerate(clients):
        signed_in_owner(each, login, name=f"Shop {n}", email=f"owner{n}@example.com")
    answers = [invite(each, "target@example.net").status_code for each in clients[:3]]
    refused = invite(clients[3], "Target@Example.net")
    assert answers == [303, 303, 303] and refused.status_code == 400
    assert "sent 3 invitations in the last 24 hours" in refused.get_data(as_text=True)
    assert len(outbox(db, to="target@example.net")) == 3
    # The refusal did not use up the merchant's own allowance.
    merchant_id = db.scalar(select(User.merchant_id).where(User.email == "owner3@example.com"))
    assert throttle.count(f"invite-merchant:{merchant_id}", invitations.WINDOW) == 0
    assert invite(clients[3], "someone.else@example.net").status_code == 303


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


@pytest.mark.parametrize("value", ["\x00", "x" * 5000, "\r\n", "é" * 300, "%00", "\u2028"])
def test_hostile_values_get_an_answer_never_a_500(app, client, login, db, value):
    signed_in_owner(client, login)
    for data in ({"email": value}, {"email": "ok@example.com", "name": value}):
        assert invite(client, **data).status_code < 500
    invite(client, "real@example.com")
    path = next(invite_link(m) for m in outbox(db, "real@example.com"))
    browsers = [app.test_client() for _ in range(3)]
    tokens = [csrf_token(browser, path) for browser in browsers]  # before any may accept it
    for browser, token, field in zip(browsers, tokens, ("name", "password", "confirm")):
        form = {"name": "N", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, field: value}
        assert browser.post(path, data={**form, "csrf_token": token}).status_code < 500, field
    assert app.test_client().get("/invite/" + value).status_code < 500


def _invitation(app, owner: User, email: str):
    """An invitation from `owner`, made through the service as the view would, committed."""
    from portal import db as portal_db

    with app.test_request_context():
        inviter = portal_db.session.get(User, owner.id)
        invitation, token = invitations.invite(inviter.merchant, inviter, email)
        portal_db.session.commit()
        return invitation, token


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


def test_every_way_of_signing_in_stamps_the_last_login(client, db):
    signup = {  # no "name": an optional field a post may leave out
        "business_name": "Fresh Shop",
        "email": "fresh@example.com",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
    }
    assert post_form(client, "/signup", signup).status_code == 302
    assert db.scalar(select(User.last_login_at)) is not None  # sign-up signs in too
    assert "never" not in client.get("/team/").get_data(as_text=True)


def test_a_member_is_told_the_setup_steps_are_the_owners(client, login, db):
    owner = make_owner("Step Shop", "steps-owner@example.com")
    owner.name = "Ola Owner"
    make_member(owner.merchant_id, "steps-member@example.com")
    db.commit()
    login(client, "steps-member@example.com", PASSWORD)
    home = client.get("/").get_data(as_text=True)
    assert "for the account's owner, Ola Owner (steps-owner@example.com)" in home
    assert "Owner&#39;s step" in home and ">To do<" not in home
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, "steps-owner@example.com", PASSWORD)
    home = client.get("/").get_data(as_text=True)
    assert "for the account's owner" not in home and ">To do<" in home
