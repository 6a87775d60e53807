"""The Connect page's word on webhooks: when the last event arrived, a direct-mode delivery
refused for its signature (a wrong signing secret) once Stripe (the sandbox) confirms it sent
that event, and replacing that secret in place. A refusal is kept by a worker's job, run here."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest

import stripe_events as se
from factories import PASSWORD, make_connected, make_direct, make_member
from helpers import post_form
from portal.db import utcnow
from portal.extensions import rq
from portal.services import webhook_health
from refusal_kit import OWN_SECRET, account_of, endpoint, expired_event, refused


@pytest.fixture(autouse=True)
def stripe_and_redis(sandbox_server, redis_conn, monkeypatch):
    """Refusals are confirmed with Stripe by a job: the sandbox answers, the test Redis queues.
    make_direct's key is unknown to the sandbox: it cannot say, and the refusal is kept."""
    monkeypatch.setattr(rq, "connection", redis_conn)
    return sandbox_server


def _page(client) -> str:
    return html.unescape(client.get("/connect").get_data(as_text=True))


def test_a_delivery_signed_with_another_secret_is_refused_and_shown(
    app, client, db, login, redis_conn
):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    login(client, owner.email, PASSWORD)
    first = _page(client)
    assert "None yet. Stripe sends one when a checkout expires" in first
    assert "The signing secret is checked then: if it does not match, this page says so." in first
    refused(app, client, redis_conn, owner, expired_event())
    account = account_of(db, owner)
    assert account.webhook_refused_reason == (
        "its signature does not match the signing secret saved here"
    )
    page = _page(client)
    assert 'id="webhook-refused"' in page
    assert "Your Stripe events may not be reaching the portal." in page
    assert "its signature does not match the signing secret saved here." in page
    assert "A delivery was refused: see below." in page
    assert 'Next step: <a href="/connect">' not in page  # its own step: the fix is below
    # Home's checklist does not call Stripe done while its events are refused.
    home = html.unescape(client.get("/").get_data(as_text=True))
    assert "Events refused: check the signing secret" in home
    fixed = se.post(client, expired_event("cs_live_B"), path=endpoint(owner), secret=OWN_SECRET)
    assert fixed.status_code == 200
    assert "Events refused" not in html.unescape(client.get("/").get_data(as_text=True))


def test_an_unsigned_post_is_not_kept_as_stripes_refusal(app, client, db):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    response = client.post(
        endpoint(owner), data="{}", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert account_of(db, owner).webhook_refused_at is None


def test_refusals_are_checked_and_kept_at_most_once_a_minute(app, client, db, redis_conn):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    refused(app, client, redis_conn, owner, expired_event("cs_live_A"))
    first = account_of(db, owner).webhook_refused_at
    assert first is not None
    refused(app, client, redis_conn, owner, expired_event("cs_live_B"))
    assert account_of(db, owner).webhook_refused_at == first
    redis_conn.delete(webhook_health.REFUSAL_SLOT.format(owner.merchant_id))  # a minute on
    account = account_of(db, owner)
    account.webhook_refused_at = first - webhook_health.REFUSAL_EVERY - timedelta(seconds=1)
    db.commit()
    refused(app, client, redis_conn, owner, expired_event("cs_live_C"))
    assert account_of(db, owner).webhook_refused_at > first


def test_an_event_that_gets_through_later_ends_the_warning(app, client, db, login, redis_conn):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    login(client, owner.email, PASSWORD)
    refused(app, client, redis_conn, owner, expired_event("cs_live_A"))
    assert 'id="webhook-refused"' in _page(client)
    response = se.post(client, expired_event("cs_live_B"), path=endpoint(owner), secret=OWN_SECRET)
    assert response.status_code == 200
    page = _page(client)
    assert 'id="webhook-refused"' not in page
    assert ": a checkout expired" in page


def test_the_owner_replaces_the_signing_secret_in_place(app, client, db, login):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    login(client, owner.email, PASSWORD)
    se.post(
        client, expired_event("cs_live_A"), path=endpoint(owner), secret="whsec_NewEndpointSecret1"
    )
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
    account = account_of(db, owner)
    assert (account.webhook_refused_at, account.is_connected) == (None, True)
    assert "whsec_NewEndpointSecret1" not in account.webhook_secret_sealed  # sealed at rest
    response = se.post(client, expired_event("cs_live_B"), path=endpoint(owner), secret=OWN_SECRET)
    assert response.status_code == 400  # the secret replaced is no longer taken
    event = expired_event("cs_live_C")
    response = se.post(client, event, path=endpoint(owner), secret="whsec_NewEndpointSecret1")
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
    assert account_of(db, oauth).webhook_secret_sealed is None


def test_events_from_before_the_account_was_connected_are_not_its_last(app, client, db, login):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    login(client, owner.email, PASSWORD)
    se.post(client, expired_event("cs_live_A"), path=endpoint(owner), secret=OWN_SECRET)
    assert ": a checkout expired" in _page(client)
    account = account_of(db, owner)
    account.connected_at = utcnow()  # as connecting another account (or again) sets it
    db.commit()
    first = _page(client)
    assert "None yet. Stripe sends one when a checkout expires" in first
    assert "The signing secret is checked then: if it does not match, this page says so." in first


def test_no_event_kept_for_an_old_connection_reads_as_none_lately(app, client, db, login):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    login(client, owner.email, PASSWORD)
    account = account_of(db, owner)
    account.connected_at = utcnow() - timedelta(days=40)  # events older than 30 days are gone
    db.commit()
    page = _page(client)
    assert "None in the last 30 days." in page and "None yet" not in page
