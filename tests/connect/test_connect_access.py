"""Who may see and change the /connect page: members, visitors, other merchants."""

from __future__ import annotations

from factories import PASSWORD, make_member
from helpers import post_form
from connect_kit import _account, _connect, _owner, _stored


def test_members_see_the_state_but_may_change_nothing(app, db, login, sandbox_server):
    client, owner = _owner(app, login, "Team Shop")
    account_id = _account(sandbox_server, "Team Account")
    _connect(client, sandbox_server, account=account_id)
    member = make_member(owner.merchant_id)
    member_client = app.test_client()
    login(member_client, member.email, PASSWORD)
    page = member_client.get("/connect").get_data(as_text=True)
    assert "Team Account" in page and account_id in page
    assert "Disconnect Stripe" not in page and "Only the account" in page
    for path in ("/connect/oauth", "/connect/disconnect", "/connect/direct"):
        assert post_form(member_client, path, {}, page="/connect").status_code == 403
    assert member_client.get("/connect/callback?code=ac_x&state=y").status_code == 403
    assert _stored(db)[0].is_connected


def test_logged_out_visitors_are_sent_to_log_in(app, client):
    assert client.get("/connect").headers["Location"].startswith("/login")
    assert client.get("/connect/callback?code=x").headers["Location"].startswith("/login")
    for path in ("/connect/oauth", "/connect/disconnect", "/connect/direct"):
        response = post_form(client, path, {}, page="/login")
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_another_merchants_account_never_shows(app, db, login, sandbox_server):
    alpha, _ = _owner(app, login, "Alpha")
    account_id = _account(sandbox_server, "Alpha Account")
    _connect(alpha, sandbox_server, account=account_id)
    beta, _ = _owner(app, login, "Beta")
    page = beta.get("/connect").get_data(as_text=True)
    assert "Alpha Account" not in page and account_id not in page
    assert "Stripe is not connected" in page
