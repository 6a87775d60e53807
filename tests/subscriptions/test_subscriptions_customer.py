"""A customer's record: history in words, manual changes, and other merchants' addresses hidden."""

from __future__ import annotations

import re

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from factories import PASSWORD, make_member, make_owner
from helpers import csrf_token
from portal import db as portal_db
from portal.models import ConsentChange, Contact, RecoveryCase
from portal.services import consent, subscriptions
from subscriptions_kit import T0, _addresses, _cart, _checkout, _contacts, _ledger, _listing


def test_customer_page_shows_history_in_words_carts_and_emails(client, owner):
    m = owner.merchant_id
    _ledger(m, "ola@example.com", "subscribed", "checkout_session", "cs_live_1", T0)
    _ledger(m, "ola@example.com", "unsubscribed", "one_click", "x", T0 + timedelta(days=1))
    _cart(m, "ola@example.com", "cs_live_1")
    html = client.get("/subscriptions/customer?email=%20OLA@Example.com").get_data(as_text=True)
    history = html.split("<h2>History</h2>")[1].split("</section>")[0]
    assert history.index("One-click unsubscribe") < history.index("Checkout")  # newest first
    assert "The shopper" in history and "one_click" not in history
    case_id = portal_db.session.scalar(select(RecoveryCase.id))
    assert f'<a href="/carts/{case_id}">Checkout: agreed to marketing emails</a>' in history
    assert "€27.50" in html and "Expired" in html and "Sent" in html
    assert client.get("/subscriptions/customer").status_code == 404
    assert client.get("/subscriptions/customer?email=not-an-address").status_code == 404
    # Full-width letters and dots in the domain are the domain DNS reads: the same customer.
    wide = client.get("/subscriptions/customer?email=ola@Ｅxample．com").get_data(as_text=True)
    assert "One-click unsubscribe" in wide


def test_a_long_history_shows_its_latest_changes_and_the_export_has_them_all(client, owner):
    m, shown = owner.merchant_id, subscriptions.HISTORY_LIMIT
    changes = [
        consent.Change(m, "ola@example.com", status, "csv", f"f{n}", T0 + timedelta(hours=n))
        for n, status in enumerate(["subscribed", "unsubscribed"] * ((shown + 6) // 2))
    ]
    consent.record(changes)
    portal_db.session.commit()
    html = client.get("/subscriptions/customer?email=ola@example.com").text
    history = html.split("<h2>History</h2>")[1].split("</section>")[0]
    assert history.count("<tr>") == shown + 1  # its header and the latest changes
    assert f"The latest {shown} of {len(changes)} changes" in history
    exported = client.get("/subscriptions/customer/export.json?email=ola@example.com").json
    assert len(exported["consent_history"]) == len(changes)


def test_customer_page_names_the_checkout_a_recovery_email_opened(client, owner):
    case = _cart(owner.merchant_id, "ola@example.com", "cs_live_1")
    paid = T0 + timedelta(hours=26)
    fields = dict(created_at=paid, expired_at=None, state_at=paid, recovered_from="cs_live_1")
    _checkout(
        owner.merchant_id,
        "ola@example.com",
        "cs_live_2",
        **fields,
        status="complete",
        payment_status="paid",
    )
    portal_db.session.commit()
    html = client.get("/subscriptions/customer?email=ola@example.com").get_data(as_text=True)
    checkouts = html.split("<h2>Checkouts</h2>")[1].split("</section>")[0]
    assert f'Opened from a recovery email for <a href="/carts/{case.id}">the cart of' in checkouts
    emails = html.split("<h2>Emails sent</h2>")[1].split("</section>")[0]
    assert "Not clicked" in emails and ">no<" not in emails


def test_an_address_not_held_yet_can_be_unsubscribed_by_hand(client, owner):
    listing = _listing(client, q="Nobody@Example.com")
    assert (
        "Open <bdi>nobody@example.com</bdi></a> to subscribe, unsubscribe or erase it by hand"
        in listing
    )
    filtered = _listing(client, q="nobody@example.com", status="unsubscribed")
    assert "No unsubscribed address starts with “<bdi>nobody@example.com</bdi>”." in filtered
    page = "/subscriptions/customer?email=nobody@example.com"
    html = client.get(page).get_data(as_text=True)
    assert "Never asked" in html and "Nothing is held about this address yet" in html
    assert 'value="unsubscribed">Unsubscribe</button>' in html
    data = {"email": "nobody@example.com", "status": "unsubscribed"}
    data["csrf_token"] = csrf_token(client, page)
    assert client.post("/subscriptions/customer/status", data=data).status_code == 303
    assert "Unsubscribed" in client.get(page).get_data(as_text=True)


def test_a_manual_change_is_recorded_as_manual_with_the_user(client, owner, login):
    _contacts(owner.merchant_id, ["ola@example.com"])
    member = make_member(owner.merchant_id, "kim@bean.example")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, member.email, PASSWORD)  # any team member may change consent
    page = "/subscriptions/customer?email=ola@example.com"
    data = {"email": "Ola@Example.com", "status": "unsubscribed"}
    response = client.post(
        "/subscriptions/customer/status", data={**data, "csrf_token": csrf_token(client, page)}
    )
    assert response.status_code == 303 and response.location.endswith(page)
    change = portal_db.session.scalars(select(ConsentChange)).one()
    assert (change.source, change.status) == ("manual", "unsubscribed")
    assert change.source_ref.startswith(f"user:{member.id}:")
    html = client.get(page).get_data(as_text=True)
    assert "Changed by hand" in html and "kim@bean.example" in html
    assert "Unsubscribed" in html


def test_a_manual_change_refuses_a_bad_address(client, owner):
    page = "/subscriptions"
    bad = {"email": "not-an-address", "status": "subscribed"}
    response = client.post(
        "/subscriptions/customer/status", data={**bad, "csrf_token": csrf_token(client, page)}
    )
    assert response.status_code == 303
    assert portal_db.session.scalar(select(func.count()).select_from(ConsentChange)) == 0
    with pytest.raises(subscriptions.SubscriptionError):
        subscriptions.change(owner.merchant, owner, "a@example.com", "maybe", T0, "secret")


def test_another_merchants_addresses_never_show(client, owner):
    other = make_owner("Other Shop", "owner@other.example")
    _contacts(other.merchant_id, ["theirs@example.com"])
    _cart(other.merchant_id, "theirs@example.com", "cs_live_theirs")
    _contacts(owner.merchant_id, ["ours@example.com"])
    assert _addresses(_listing(client)) == ["ours@example.com"]
    assert _addresses(_listing(client, q="theirs")) == []
    theirs = {"email": "theirs@example.com"}
    assert (
        client.get("/subscriptions/customer/export.json", query_string=theirs).status_code == 404
    )
    html = client.get("/subscriptions/customer", query_string=theirs).get_data(as_text=True)
    assert "Never asked" in html and "Nothing is held about this address yet" in html
    assert "cs_live_theirs" not in html and "No checkouts with this address" in html


def test_a_shopper_who_unsubscribed_themselves_is_subscribed_again_only_when_they_asked(
    client, owner
):
    _ledger(owner.merchant_id, "ola@example.com", "unsubscribed", "one_click", "e1", T0)
    page = "/subscriptions/customer?email=ola@example.com"
    html = client.get(page).get_data(as_text=True)
    assert "They asked me to subscribe them again" in html
    data = {"email": "ola@example.com", "status": "subscribed"}
    data["csrf_token"] = csrf_token(client, page)
    refused = client.post("/subscriptions/customer/status", data=data, follow_redirects=True)
    assert "unsubscribed themselves: subscribe them again only when they ask" in refused.get_data(
        as_text=True
    )
    assert _status(owner, "ola@example.com") == "unsubscribed"
    asked = client.post("/subscriptions/customer/status", data={**data, "asked_again": "y"})
    assert asked.status_code == 303 and _status(owner, "ola@example.com") == "subscribed"
    html = client.get(page).get_data(as_text=True)
    assert "owner@bean.example (the shopper asked)" in html  # the history says why


def test_the_status_an_address_holds_already_records_nothing(client, owner):
    """A second click, a refresh, a stale tab: "nothing changed", and no row in the history."""
    page = "/subscriptions/customer?email=dbl@example.com"
    data = {"email": "dbl@example.com", "status": "subscribed"}
    data["csrf_token"] = csrf_token(client, page)
    said = []
    for _ in range(3):
        answer = client.post("/subscriptions/customer/status", data=data, follow_redirects=True)
        said.append(
            re.findall(
                r"(Subscribed: recorded|Nothing changed[^<]*)", answer.get_data(as_text=True)
            )
        )
    assert said == [
        ["Subscribed: recorded"],
        ["Nothing changed: the address is subscribed already."],
        ["Nothing changed: the address is subscribed already."],
    ]
    assert portal_db.session.scalar(select(func.count()).select_from(ConsentChange)) == 1


def _status(owner, email: str) -> str:
    portal_db.session.expire_all()
    contact = portal_db.session.scalar(
        select(Contact).where(Contact.merchant_id == owner.merchant_id, Contact.email == email)
    )
    return contact.status
