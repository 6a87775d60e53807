"""The links shoppers follow from emails: opaque tokens, the unsubscribe page, hostile tokens."""

from __future__ import annotations

import base64

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select, update

import stripe_events as se
from factories import make_connected
from portal.models import ConsentChange, Contact, EmailSend, Merchant, RecoveryCase
from portal.services import events, links

ACCT = "acct_1LinksMerchant0001"


@pytest.fixture
def send(app, client, db):
    return mailed_send(client, db)


def mailed_send(client, db) -> EmailSend:
    """A send row for a shopper's expired cart, as the pipeline leaves it."""
    make_connected(ACCT, name="Tea Shop")
    assert (
        se.post(client, se.expired("cs_live_links", ACCT, email="Rae@Example.com")).status_code
        == 200
    )
    events.drain()
    case = db.scalars(select(RecoveryCase)).one()
    row = EmailSend(
        merchant_id=case.merchant_id,
        case_id=case.id,
        step=0,
        status="sent",
        to_address="rae@example.com",
        message_id="<1@test>",
        attempts=1,
    )
    db.add(row)
    db.commit()
    return row


def _path(url: str) -> str:
    return "/" + url.split("/", 3)[3]


def _signed(app, purpose: str, payload) -> str:
    return URLSafeSerializer(app.config["SECRET_KEY"], salt=f"portal.{purpose}").dumps(payload)


def test_the_unsubscribe_link_carries_no_address_and_unsubscribes_its_shopper(
    app, client, db, send
):
    with app.test_request_context():
        url = links.unsubscribe_link(send.id)
    token = url.rsplit("/", 1)[1]
    decoded = base64.urlsafe_b64decode(token.split(".")[0] + "==")
    assert b"rae" not in decoded.lower() and b"example" not in decoded and b"@" not in decoded
    assert client.head(_path(url)).status_code == 200  # a link scanner's HEAD only asks too
    assert db.scalars(select(Contact.status)).all() == ["subscribed"]
    page = client.get(_path(url))
    shown = page.get_data(as_text=True).replace("<wbr>", "")  # break points in the address
    assert page.status_code == 200 and "rae@example.com" in shown
    assert client.post(_path(url)).status_code == 200
    assert db.scalars(select(Contact.status)).one() == "unsubscribed"


def test_repeated_unsubscribes_add_one_history_entry_but_keep_the_status_newest(
    app, client, db, send
):
    with app.test_request_context():
        path = _path(links.unsubscribe_link(send.id))
    for body in ({}, {"List-Unsubscribe": "One-Click"}, {"List-Unsubscribe": "One-Click"}):
        assert client.post(path, data=body).status_code == 200
    unsubscribes = db.scalars(
        select(ConsentChange.source).where(ConsentChange.status == "unsubscribed")
    ).all()
    assert unsubscribes == ["unsubscribe_link"]
    first = db.scalars(
        select(ConsentChange.occurred_at).where(ConsentChange.status == "unsubscribed")
    ).one()
    db.expire_all()
    contact = db.scalars(select(Contact)).one()
    assert contact.status == "unsubscribed" and contact.updated_at > first


def test_a_shopper_who_left_the_box_unticked_is_told_so_not_that_they_unsubscribed(
    app, client, db, send
):
    contact = db.scalars(select(Contact)).one()
    contact.status, contact.source = "unsubscribed", "checkout_session"
    db.get(Merchant, send.merchant_id).name = "Knitwear & Co."
    db.commit()
    with app.test_request_context():
        path = _path(links.unsubscribe_link(send.id))
    page = client.get(path).get_data(as_text=True)
    assert "You are not subscribed" in page and "left the box for news and offers unticked" in page
    assert "already unsubscribed" not in page and "<form" not in page
    db.execute(update(Contact).values(source="unsubscribe_link"))
    db.commit()
    page = client.get(path).get_data(as_text=True)
    assert "You are already unsubscribed" in page
    assert "from Knitwear &amp; Co.</p>" in page  # one full stop after a name that has one


def test_links_mailed_before_tokens_were_opaque_still_unsubscribe(app, client, db, send):
    token = _signed(app, "unsubscribe", {"m": send.merchant_id, "e": "rae@example.com"})
    assert client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert (
        db.scalars(select(ConsentChange.source).order_by(ConsentChange.id)).all()[-1]
        == "one_click"
    )


@pytest.mark.parametrize(
    "payload",
    [
        {"m": 1, "e": "a" * 250 + "@example.com"},
        {"m": 1, "e": "rae\x00@example.com"},
        {"m": 1, "e": "rae@example.com\r\nX: y"},
        {"m": 1, "e": ["rae@example.com"]},
        {"m": "1", "e": "x@y.z"},
        {"m": 2**31, "e": "rae@example.com"},
        {"m": 10**30, "e": "rae@example.com"},
        {"s": 2**31},
        {"s": -1},
        {"s": True},
        {"s": "1"},
        {"s": 10**40},
        ["s", 1],
        "s",
        None,
        {},
    ],
)
def test_hostile_but_signed_unsubscribe_tokens_get_a_friendly_page_never_a_500(
    app, client, db, send, payload
):
    if isinstance(payload, dict) and payload.get("m") == 1:
        payload = {**payload, "m": send.merchant_id}
    token = _signed(app, "unsubscribe", payload)
    for response in (client.get(f"/u/{token}"), client.post(f"/u/{token}")):
        assert response.status_code == 404 and "This link does not work" in response.get_data(
            as_text=True
        )
    assert db.scalar(select(func.count()).select_from(ConsentChange)) == 1  # the checkout's own


@pytest.mark.parametrize("payload", [{"s": 2**31}, {"s": 10**40}, {"s": "1"}, {"s": None}, [1], 7])
def test_hostile_but_signed_recovery_tokens_get_a_friendly_page(app, client, send, payload):
    response = client.get(f"/r/{_signed(app, 'recovery', payload)}")
    assert response.status_code == 404 and "This link does not work" in response.get_data(
        as_text=True
    )


def test_forged_and_cut_tokens_are_refused(app, client, send):
    with app.test_request_context():
        url = links.unsubscribe_link(send.id)
    for path in (_path(url)[:-3], "/u/eyJzIjoxfQ.forged", "/r/eyJzIjoxfQ.forged"):
        assert client.get(path).status_code == 404
    # Whose shop a broken link was for cannot be told: it speaks the browser's language.
    german = client.get("/r/cut", headers={"Accept-Language": "de-DE,de;q=0.9,en;q=0.5"})
    assert german.status_code == 404 and '<html lang="de">' in german.text
    assert "Dieser Link funktioniert nicht" in german.text
    unknown = client.get("/u/cut", headers={"Accept-Language": "ja"})
    assert '<html lang="en">' in unknown.text and "This link does not work" in unknown.text


def test_the_sample_emails_links_explain_themselves_and_record_nothing(client, db):
    from portal.models import EmailSend

    button = client.get("/r/sample")
    leave = client.get("/unsubscribe/sample")
    assert button.status_code == 200 and "back to their saved" in button.get_data(as_text=True)
    assert leave.status_code == 200 and "no more emails" in leave.get_data(as_text=True)
    assert db.query(EmailSend).count() == 0
    assert client.get("/r/sampl").status_code == 404  # any other token is still checked
