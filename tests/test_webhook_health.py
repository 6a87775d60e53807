"""The Connect page's word on webhooks: when the last event arrived, a direct-mode delivery
refused for its signature (a wrong signing secret) once Stripe (the sandbox) confirms it sent
that event, and replacing that secret in place. A refusal is kept by a worker's job, run here."""

from __future__ import annotations

import html
from datetime import timedelta

import pytest
import requests
import stripe
from rq import Queue

import stripe_events as se
from factories import PASSWORD, make_connected, make_direct, make_member, make_owner
from helpers import post_form
from portal import db as portal_db
from portal import worker
from portal.db import utcnow
from portal.extensions import rq
from portal.models import StripeAccount
from portal.services import connections, webhook_health


OWN_SECRET = "whsec_merchant_own"  # what make_direct saves
WRONG = "whsec_the_wrong_one"


@pytest.fixture(autouse=True)
def stripe_and_redis(sandbox_server, redis_conn, monkeypatch):
    """Refusals are confirmed with Stripe by a job: the sandbox answers, the test Redis queues.
    make_direct's key is unknown to the sandbox: it cannot say, and the refusal is kept."""
    monkeypatch.setattr(rq, "connection", redis_conn)
    return sandbox_server


def _refused(app, client, redis_conn, owner, event: dict):
    """POST `event` signed with the wrong secret, then run the jobs it queued as a worker."""
    response = se.post(client, event, path=_path(owner), secret=WRONG)
    assert response.status_code == 400
    worker.run(app, redis_conn, [Queue("default", connection=redis_conn)], burst=True)
    return response


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


def test_a_delivery_signed_with_another_secret_is_refused_and_shown(
    app, client, db, login, redis_conn
):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    login(client, owner.email, PASSWORD)
    assert "None yet. Stripe sends one when a checkout expires" in _page(client)
    _refused(app, client, redis_conn, owner, _event())
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


def test_refusals_are_checked_and_kept_at_most_once_a_minute(app, client, db, redis_conn):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    _refused(app, client, redis_conn, owner, _event("cs_live_A"))
    first = _account(db, owner).webhook_refused_at
    assert first is not None
    _refused(app, client, redis_conn, owner, _event("cs_live_B"))
    assert _account(db, owner).webhook_refused_at == first
    redis_conn.delete(webhook_health.REFUSAL_SLOT.format(owner.merchant_id))  # a minute on
    account = _account(db, owner)
    account.webhook_refused_at = first - webhook_health.REFUSAL_EVERY - timedelta(seconds=1)
    db.commit()
    _refused(app, client, redis_conn, owner, _event("cs_live_C"))
    assert _account(db, owner).webhook_refused_at > first


def _direct_on_the_sandbox(app, sandbox) -> tuple:
    """An owner linked in direct mode with a restricted key the sandbox knows: it can say
    which events it sent. The owner and a client on that key."""
    platform = stripe.StripeClient(
        sandbox.config["PLATFORM_SECRET_KEY"], base_addresses={"api": sandbox.base}
    )
    account_id = platform.v1.accounts.create({"type": "standard"}).id
    url = f"{sandbox.base}/_sandbox/accounts/{account_id}?format=json"
    key = requests.get(url, timeout=5).json()["keys"]["rk_live"]
    owner = make_owner("Direct Shop", "direct@example.com")
    connections.link_account(
        owner.merchant,
        account_id,
        livemode=True,
        method="direct",
        api_key=key,
        webhook_secret=OWN_SECRET,
        keys=app.config["ENCRYPTION_KEY"],
    )
    portal_db.session.commit()
    return owner, stripe.StripeClient(key, base_addresses={"api": sandbox.base})


def _an_event_stripe_sent(sandbox, own: stripe.StripeClient) -> str:
    price = {"currency": "usd", "unit_amount": 500, "product_data": {"name": "Tea"}}
    session = own.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price_data": price, "quantity": 1}],
            "success_url": "https://shop.example/ok",
        }
    )
    expire = f"{sandbox.base}/_sandbox/checkout/sessions/{session.id}/expire"
    assert requests.post(expire, timeout=5).ok
    sent = own.v1.events.list({"limit": 1}).data
    return sent[0].id if sent else pytest.fail("the sandbox recorded no event")


def test_a_forged_delivery_stripe_never_sent_raises_no_alarm(
    app, client, db, login, redis_conn, stripe_and_redis
):
    """Anyone may POST to the endpoint: only an event Stripe confirms it sent is kept, and a
    forgery does not hold back the check of a real refusal that follows it."""
    owner, own = _direct_on_the_sandbox(app, stripe_and_redis)
    forged = _event("cs_live_Forged")
    forged["id"] = "evt_1NeverSentByStripe"
    _refused(app, client, redis_conn, owner, forged)
    assert _account(db, owner).webhook_refused_at is None  # Stripe: no such event
    real = _event("cs_live_Real")
    real["id"] = _an_event_stripe_sent(stripe_and_redis, own)
    _refused(app, client, redis_conn, owner, real)  # within the minute of the forgery
    assert _account(db, owner).webhook_refused_at is not None


def test_a_flood_of_forgeries_frees_the_check_only_so_often(app, redis_conn):
    slot = webhook_health.REFUSAL_SLOT.format(7)
    for _ in range(webhook_health.FORGED_FREES_PER_HOUR):
        assert webhook_health.take_refusal_slot(redis_conn, 7)
        assert not webhook_health.take_refusal_slot(redis_conn, 7)
        webhook_health.free_refusal_slot(redis_conn, 7)
    assert webhook_health.take_refusal_slot(redis_conn, 7)
    webhook_health.free_refusal_slot(redis_conn, 7)  # one too many this hour: kept a minute
    assert not webhook_health.take_refusal_slot(redis_conn, 7)
    assert 0 < redis_conn.ttl(slot) <= 60
    assert 0 < redis_conn.ttl(webhook_health.FORGED_FREES.format(7)) <= 3600  # counted an hour


def test_an_event_that_gets_through_later_ends_the_warning(app, client, db, login, redis_conn):
    owner = make_direct(app.config["ENCRYPTION_KEY"])
    login(client, owner.email, PASSWORD)
    _refused(app, client, redis_conn, owner, _event("cs_live_A"))
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
