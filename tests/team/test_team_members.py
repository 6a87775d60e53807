"""Team members: what they may see, removal, last logins, and other merchants' ids."""

from __future__ import annotations

from sqlalchemy import func, select

from factories import PASSWORD, make_member, make_owner
from helpers import csrf_token, post_form
from portal.models import Invitation, User
from portal.services import invitations
from team_kit import NEW_PASSWORD, outbox, signed_in_owner


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


def _invitation(app, owner: User, email: str):
    """An invitation from `owner`, made through the service as the view would, committed."""
    from portal import db as portal_db

    with app.test_request_context():
        inviter = portal_db.session.get(User, owner.id)
        invitation, token = invitations.invite(inviter.merchant, inviter, email)
        portal_db.session.commit()
        return invitation, token


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
