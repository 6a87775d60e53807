"""Invitations refused: existing accounts, bad or hostile values, and the limits per merchant and address."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import func, select, update

from factories import make_member, make_owner
from helpers import csrf_token, post_form
from portal.models import Invitation, Merchant, User
from portal.services import invitations, throttle
from team_kit import NEW_PASSWORD, invite, invite_link, outbox, signed_in_owner


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


def test_invitations_are_limited_per_merchant(app, client, login, db, monkeypatch):
    monkeypatch.setattr(invitations, "MAX_PER_MERCHANT", 2)
    signed_in_owner(client, login)
    answers = [invite(client, f"n{n}@example.com").status_code for n in range(3)]
    assert answers == [303, 303, 429]
    assert len(outbox(db)) == 2
    elsewhere = app.test_client()
    signed_in_owner(elsewhere, login)  # another merchant has its own allowance
    assert invite(elsewhere, "n9@example.com").status_code == 303


def test_asking_about_addresses_with_an_account_counts_against_the_limit(
    client, login, db, monkeypatch
):
    """Past the day's limit every address gets the same answer: the limit's, not whether it
    has an account (an answer without a limit would tell anyone who has one)."""
    monkeypatch.setattr(invitations, "MAX_PER_MERCHANT", 2)
    signed_in_owner(client, login)
    make_owner(email="taken@example.com")
    make_owner(email="taken.too@example.com")
    first = [invite(client, address).status_code for address in ("taken@example.com", "x@e.com")]
    late = [invite(client, a).status_code for a in ("taken.too@example.com", "free@example.com")]
    assert first == [400, 303] and late == [429, 429]
    assert len(outbox(db)) == 1


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
