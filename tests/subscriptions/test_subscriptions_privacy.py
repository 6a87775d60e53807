"""Privacy requests on the subscriptions pages: export, erase, who may erase, CSRF."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from factories import PASSWORD, make_member, make_owner
from helpers import csrf_token
from portal import db as portal_db
from portal.models import (
    CheckoutSession,
    ConsentChange,
    Contact,
    EmailSend,
    ErasedAddress,
    Merchant,
    StripeEvent,
)
from portal.services import erasure, subscriptions
from subscriptions_kit import T0, _addresses, _cart, _contacts, _ledger, _listing


def test_export_holds_everything_about_the_address_and_nothing_else(client, owner):
    m = owner.merchant_id
    other = make_owner("Other Shop", "owner@other.example")
    _ledger(m, "ola@example.com", "subscribed", "checkout_session", "cs_live_1", T0)
    _cart(m, "ola@example.com", "cs_live_1")
    _cart(m, "kari@example.com", "cs_live_2")
    _cart(other.merchant_id, "ola@example.com", "cs_live_other", name="Other Name")
    response = client.get("/subscriptions/customer/export.json?email=ola@example.com")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    data = json.loads(response.get_data(as_text=True))
    assert data["contact"]["status"] == "subscribed"
    assert [c["source_ref"] for c in data["consent_history"]] == ["cs_live_1"]
    assert data["consent_history"][0]["source_in_words"] == "Checkout: agreed to marketing emails"
    [checkout] = data["checkout_sessions"]
    assert checkout["session_id"] == "cs_live_1" and checkout["customer_name"] == "Ola Nordmann"
    assert checkout["amount_total"] == 2750 and checkout["consent_promotions"] == "opt_in"
    assert checkout["recovery_case"]["decision"] == "Emailed"
    assert [(e["status"], e["step"], e["email"]) for e in data["emails_sent"]] == [
        ("Sent", 0, "Email 1")
    ]
    text = response.get_data(as_text=True)
    assert "cs_live_other" not in text and "kari" not in text and "Other Name" not in text


def _ola_with_a_cart_and_an_event(m: int) -> None:
    """Ola subscribed at checkout, with a cart and the raw event that carried her details."""
    _ledger(m, "ola@example.com", "subscribed", "checkout_session", "cs_live_1", T0)
    _cart(m, "ola@example.com", "cs_live_1")
    body = json.dumps(
        {
            "customer_email": "OLA@example.com",
            "customer_details": {
                "email": "Ola@Example.com",
                "name": "Ola Nordmann",
                "phone": "+4712345678",
                "address": {"line1": "Storgata 1", "city": "Oslo", "country": "NO"},
            },
            "shipping_details": {"name": "Ola N.", "address": {"line1": "Storgata 1"}},
            "metadata": {"note": "for ola@example.com"},
            "amount_total": 2750,
        }
    )
    portal_db.session.add(
        StripeEvent(
            event_id="evt_1", source="connect", merchant_id=m, type="checkout.session.expired",
            livemode=True, created_at=T0, payload=body, status="processed",
        )
    )  # fmt: skip
    portal_db.session.commit()


def _assert_only_the_hash_is_left(app, m: int) -> None:
    """No contact or change, the checkout, email and event scrubbed; only the hash remains."""
    s = portal_db.session
    s.expire_all()
    assert s.scalar(select(func.count()).select_from(Contact)) == 0
    assert s.scalar(select(func.count()).select_from(ConsentChange)) == 0
    checkout = s.scalars(select(CheckoutSession)).one()
    assert checkout.email is None and checkout.customer_name is None
    assert s.scalars(select(EmailSend)).one().to_address.startswith("erased:")
    scrubbed = s.scalars(select(StripeEvent)).one().payload
    for held in ("ola", "nordmann", "4712345678", "storgata", "oslo"):
        assert held not in scrubbed.lower()
    kept = json.loads(scrubbed)
    assert kept["customer_details"]["email"] == "erased@erased.invalid"
    assert kept["metadata"]["note"] == "for erased@erased.invalid" and kept["amount_total"] == 2750
    assert s.scalars(select(ErasedAddress)).one().merchant_id == m
    secret = app.config["SECRET_KEY"]
    with app.app_context():
        assert erasure.is_erased(m, " OLA@example.com", secret)
        assert not erasure.is_erased(m, "kari@example.com", secret)


def _assert_bad_addresses_erase_nothing(client, token: str) -> None:
    for bad in ("", "x" * 300 + "@example.com"):
        refused = client.post(
            "/subscriptions/customer/erase",
            data={"email": bad, "confirm": "y", "csrf_token": token},
            follow_redirects=True,
        )
        assert "That is not a complete email address: nothing was erased." in refused.get_data(
            as_text=True
        )


def test_erase_keeps_only_the_hash_and_the_address_is_gone(app, client, owner):
    m = owner.merchant_id
    _ola_with_a_cart_and_an_event(m)
    page = "/subscriptions/customer?email=ola@example.com"
    token = csrf_token(client, page)
    refused = client.post(
        "/subscriptions/customer/erase", data={"email": "ola@example.com", "csrf_token": token}
    )
    assert refused.status_code == 400 and "Tick the box" in refused.get_data(as_text=True)
    assert '<details class="erase" id="erase" open>' in refused.get_data(as_text=True)
    assert 'action="/subscriptions/customer/erase?email=ola@example.com#erase"' in client.get(
        page
    ).get_data(as_text=True)
    done = client.post(
        "/subscriptions/customer/erase",
        data={"email": "ola@example.com", "confirm": "y", "csrf_token": token},
    )
    assert done.status_code == 303 and done.location.endswith("/subscriptions")
    _assert_only_the_hash_is_left(app, m)
    case_id = portal_db.session.scalars(select(EmailSend.case_id)).one()
    cart = client.get(f"/carts/{case_id}").get_data(as_text=True)
    assert "erased:" not in cart and "to an erased address" in cart
    after = client.get(page).get_data(as_text=True)
    assert "This address was erased on request" in after and "Unsubscribe</button>" not in after
    assert "Erased on request" in after and "Erase ola@example.com" not in after
    # A stale tab's form cannot bring the address back.
    again = {"email": "ola@example.com", "status": "subscribed", "csrf_token": token}
    refused = client.post("/subscriptions/customer/status", data=again, follow_redirects=True)
    assert "ola@example.com was erased on request" in refused.get_data(as_text=True)
    assert portal_db.session.scalar(select(func.count()).select_from(Contact)) == 0
    assert _addresses(_listing(client, q="ola")) == []
    _assert_bad_addresses_erase_nothing(client, token)


def test_an_erased_address_with_a_later_checkout_never_reads_as_subscribed(app, client, owner):
    m = owner.merchant_id
    _ledger(m, "ola@example.com", "subscribed", "checkout_session", "cs_live_1", T0)
    with app.app_context():
        merchant = portal_db.session.get(Merchant, m)
        subscriptions.erase(merchant, "ola@example.com", app.config["SECRET_KEY"])
        portal_db.session.commit()
    _cart(m, "ola@example.com", "cs_live_2", sent=False)  # she checks out again, ticking the box
    # A contact held from before checkouts stopped recording consent for erased addresses.
    _ledger(m, "ola@example.com", "subscribed", "checkout_session", "cs_live_2", T0)
    html = client.get("/subscriptions/customer?email=ola@example.com").get_data(as_text=True)
    status = html.split('id="status-heading"')[1].split("</section>")[0]
    assert "Erased on request: never emailed" in status and "Subscribed" not in status
    assert "What Stripe reported since (a new checkout) is listed below" in status
    assert "only a keyed hash" not in status
    assert "Erase ola@example.com" in html  # erasing again removes what came since


def test_only_the_owner_erases(client, owner, login):
    _contacts(owner.merchant_id, ["ola@example.com"])
    member = make_member(owner.merchant_id, "kim@bean.example")
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    login(client, member.email, PASSWORD)
    page = "/subscriptions/customer?email=ola@example.com"
    html = client.get(page).get_data(as_text=True)
    assert "Only the owner can erase" in html
    data = {"email": "ola@example.com", "confirm": "y", "csrf_token": csrf_token(client, page)}
    assert client.post("/subscriptions/customer/erase", data=data).status_code == 403
    assert portal_db.session.scalar(select(func.count()).select_from(Contact)) == 1


def test_posts_need_the_csrf_token(client, owner):
    _contacts(owner.merchant_id, ["ola@example.com"])
    data = {"email": "ola@example.com", "status": "unsubscribed", "confirm": "y"}
    assert client.post("/subscriptions/customer/status", data=data).status_code == 400
    assert client.post("/subscriptions/customer/erase", data=data).status_code == 400
    assert portal_db.session.scalar(select(Contact.status)) == "subscribed"
