"""The Connect page's word on webhooks: when the last event arrived, a direct-mode delivery
refused for its signature (a wrong signing secret), and replacing that secret in place."""

from __future__ import annotations

import html
from datetime import timedelta

import stripe_events as se
from factories import PASSWORD, make_connected, make_direct, make_member
from helpers import post_form
from portal.db import utcnow
from portal.models import StripeAccount
from portal.services import webhook_health


OWN_SECRET = "whsec_merchant_own"  # what make_direct saves


def _path(owner) -> str:
    return f"/webhooks/stripe/direct/{owner.merchant_id}"


def _event(session_id: str = "cs_live_A") -> dict:
    event = se.expired(session_id, "acct_1Direct")
    del event["account"]  # a direct endpoint's events carry no `account`
    return event


def _account(db, owner) -> StripeAccount:
    db.expire_all()
    return db.query(StripeAccount).filter_by(merchant_id=owner.merchant_id).one()


def _page(client) -> str:
    return html.unescape(client.get("/connect").get_data(as_text=True))


def test_a_delivery_signed_with_another_secret_is_refused_and_shown(app, client, db, login):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    login(client, owner.email, PASSWORD)
    assert "None yet. Stripe sends one when a checkout expires" in _page(client)
    response = se.post(client, _event(), path=_path(owner), secret="whsec_the_wrong_one")
    assert response.status_code == 400
    account = _account(db, owner)
    assert account.webhook_refused_reason == (
        "its signature does not match the signing secret saved here"
    )
    page = _page(client)
    assert 'id="webhook-refused"' in page
    assert "Your Stripe events may not be reaching the portal." in page
    assert "its signature does not match the signing secret saved here." in page
    assert "A delivery was refused: see below." in page
    # Home's checklist does not call Stripe done while its events are refused.
    home = html.unescape(client.get("/").get_data(as_text=True))
    assert "Events refused: check the signing secret" in home
    fixed = se.post(client, _event("cs_live_B"), path=_path(owner), secret=OWN_SECRET)
    assert fixed.status_code == 200
    assert "Events refused" not in html.unescape(client.get("/").get_data(as_text=True))


def test_an_unsigned_post_is_not_kept_as_stripes_refusal(app, client, db):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    response = client.post(_path(owner), data="{}", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert _account(db, owner).webhook_refused_at is None


def test_refusals_are_kept_at_most_once_a_minute(app, client, db):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    se.post(client, _event("cs_live_A"), path=_path(owner), secret="whsec_the_wrong_one")
    first = _account(db, owner).webhook_refused_at
    se.post(client, _event("cs_live_B"), path=_path(owner), secret="whsec_the_wrong_one")
    assert _account(db, owner).webhook_refused_at == first
    account = _account(db, owner)
    account.webhook_refused_at = first - webhook_health.REFUSAL_EVERY - timedelta(seconds=1)
    db.commit()
    se.post(client, _event("cs_live_C"), path=_path(owner), secret="whsec_the_wrong_one")
    assert _account(db, owner).webhook_refused_at > first


def test_an_event_that_gets_through_later_ends_the_warning(app, client, db, login):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    login(client, owner.email, PASSWORD)
    se.post(client, _event("cs_live_A"), path=_path(owner), secret="whsec_the_wrong_one")
    assert 'id="webhook-refused"' in _page(client)
    response = se.post(client, _event("cs_live_B"), path=_path(owner), secret=OWN_SECRET)
    assert response.status_code == 200
    page = _page(client)
    assert 'id="webhook-refused"' not in page
    assert ": a checkout expired" in page


def test_the_owner_replaces_the_signing_secret_in_place(app, client, db, login):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    login(client, owner.email, PASSWORD)
    se.post(client, _event("cs_live_A"), path=_path(owner), secret="whsec_NewEndpointSecret1")
    response = post_form(
        client, "/connect/webhook-secret", {"webhook_secret": "whsec_cut"}, page="/connect"
    )
    assert response.status_code == 400
    assert "This secret is cut short" in html.unescape(response.get_data(as_text=True))
    response = post_form(
        client,
        "/connect/webhook-secret",
        {"webhook_secret": " whsec_NewEndpointSecret1 "},
        page="/connect",
    )
    assert response.status_code == 302
    account = _account(db, owner)
    assert (account.webhook_refused_at, account.is_connected) == (None, True)
    assert "whsec_NewEndpointSecret1" not in account.webhook_secret_sealed  # sealed at rest
    response = se.post(client, _event("cs_live_B"), path=_path(owner), secret=OWN_SECRET)
    assert response.status_code == 400  # the secret replaced is no longer taken
    event = _event("cs_live_C")
    response = se.post(client, event, path=_path(owner), secret="whsec_NewEndpointSecret1")
    assert response.status_code == 200


def test_only_the_owner_of_a_direct_account_may_replace_the_secret(app, client, db, login):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    member = make_member(owner.merchant_id)
    login(client, member.email, PASSWORD)
    assert "Replace the signing secret" not in _page(client)
    data = {"webhook_secret": "whsec_NewEndpointSecret1"}
    assert post_form(client, "/connect/webhook-secret", data, page="/connect").status_code == 403
    client.post("/logout", data={"csrf_token": ""})
    oauth = make_connected("acct_1OauthShop")
    other = app.test_client()
    login(other, oauth.email, PASSWORD)
    response = post_form(other, "/connect/webhook-secret", data, page="/connect")
    assert response.status_code == 302
    page = _page(other)
    assert "Only a Stripe account connected with your own key has a signing secret." in page
    assert _account(db, oauth).webhook_secret_sealed is None


def test_events_from_before_the_account_was_connected_are_not_its_last(app, client, db, login):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    login(client, owner.email, PASSWORD)
    se.post(client, _event("cs_live_A"), path=_path(owner), secret=OWN_SECRET)
    assert ": a checkout expired" in _page(client)
    account = _account(db, owner)
    account.connected_at = utcnow()  # as connecting another account (or again) sets it
    db.commit()
    assert "None yet. Stripe sends one when a checkout expires" in _page(client)


def test_no_event_kept_for_an_old_connection_reads_as_none_lately(app, client, db, login):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    login(client, owner.email, PASSWORD)
    account = _account(db, owner)
    account.connected_at = utcnow() - timedelta(days=40)  # events older than 30 days are gone
    db.commit()
    page = _page(client)
    assert "None in the last 30 days." in page and "None yet" not in page
