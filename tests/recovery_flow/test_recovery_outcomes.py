"""Recovery end to end: what the merchant reads, credited purchases, and test mode."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests

from factories import make_member
from portal.db import utcnow
from portal.models import SendingSettings
from portal.services import recovery, sending
from recovery_flow_kit import _path


def test_a_recovered_purchase_is_credited_once_to_the_email(kit, db, client):
    session_id = kit.checkout("hal@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    text = kit.sink.messages[0].message.get_body(("plain",)).get_content()
    link = next(w for w in text.split() if w.startswith("https://portal.example/r/"))
    stripe_url = client.get(_path(link)).headers["Location"]
    landing = requests.get(stripe_url, timeout=5)  # the shopper lands on a copy of the cart
    recovered_id = urlsplit(landing.url).path.rsplit("/", 1)[1]
    kit.action(recovered_id, "pay", email="hal@example.com")
    kit.settle()
    kit.settle()
    case = kit.case(session_id)
    assert (case.recovered_session_id, case.recovered_amount, case.recovered_step) == (
        recovered_id,
        3600,
        0,
    )
    assert (case.status, case.reason) == ("done", "recovered")
    assert len(kit.sink.messages) == 1


def _kim_pays_through_the_email_and_lou_never_agreed(kit, client):
    """Kim gets the email and pays through its link; Lou left the marketing box unticked."""
    bought, quiet = kit.checkout("kim@example.com"), kit.checkout("lou@example.com", consent=False)
    kit.action(bought, "expire")
    kit.action(quiet, "expire")
    kit.settle()
    text = kit.sink.messages[0].message.get_body(("plain",)).get_content()
    link = next(w for w in text.split() if w.startswith("https://portal.example/r/"))
    landing = requests.get(client.get(_path(link)).headers["Location"], timeout=5)
    kit.action(urlsplit(landing.url).path.rsplit("/", 1)[1], "pay", email="kim@example.com")
    kit.settle()
    return bought


def _assert_the_timeline_tells_the_story_in_order(detail: str):
    """The timeline tells the story in order: expiry, re-check, email, click, payment."""
    story = [
        "Checkout expired unpaid",
        "Re-checked with Stripe: no later checkout",
        "Email 1 sent to kim@example.com",
        "Shopper clicked the link in email 1",
        "Paid $36.00: recovered",
    ]
    places = [detail.index(line) for line in story]
    assert places == sorted(places)


def _assert_another_merchant_sees_none_of_it(client, login, case_id: int):
    """Another merchant finds neither the cart nor the address."""
    from factories import PASSWORD, make_owner

    make_owner(email="other@example.com")
    other = client.application.test_client()
    login(other, "other@example.com", PASSWORD)
    assert other.get(f"/carts/{case_id}").status_code == 404
    assert "kim@" not in other.get("/carts/").get_data(as_text=True)


def test_the_merchant_reads_decisions_and_the_recovered_payment(kit, db, client, login):
    from factories import PASSWORD

    bought = _kim_pays_through_the_email_and_lou_never_agreed(kit, client)
    assert login(client, "owner@bean.example", PASSWORD).status_code == 302
    listing = client.get("/carts/").get_data(as_text=True)
    assert "The shopper did not agree to marketing emails" in listing
    assert 'class="badge">Recovered</span></a> $36.00' in listing
    recovered = client.get("/carts/?show=recovered").get_data(as_text=True).replace("<wbr>", "")
    assert "kim@example.com" in recovered and "lou@example.com" not in recovered
    case = kit.case(bought)
    detail = client.get(f"/carts/{case.id}").get_data(as_text=True)
    assert "Email 1" in detail and case.recovered_session_id in detail
    # The subscription's latest change names its source: here the paying checkout's answer.
    now = re.search(r"<dt>Subscription now</dt><dd>(.*?)</dd>", detail).group(1)
    assert re.search(
        r"since .* \(Checkout: (agreed to marketing emails|left the marketing box unticked)\)$",
        now,
    ), now
    _assert_the_timeline_tells_the_story_in_order(detail)
    payment = client.get(f"/payments/{case.id}").get_data(as_text=True)
    assert 'class="badge">Recovered</span>' in payment and "after email 1" in payment
    _assert_another_merchant_sees_none_of_it(client, login, case.id)


def _test_mode_client(kit):
    """A Stripe client with the platform's test key, acting for the sandbox merchant."""
    import stripe as stripe_sdk

    return stripe_sdk.StripeClient(
        "sk_test_sandbox_platform",
        stripe_account=kit.account,
        base_addresses={"api": kit.sandbox.base, "connect": kit.sandbox.base},
    )


def _test_mode_checkout(kit, test_client, email: str) -> str:
    """A test-mode checkout the shopper agreed to marketing on, then left to expire."""
    price = test_client.v1.prices.create(
        {"currency": "usd", "unit_amount": 900, "product_data": {"name": "Test mug"}}
    )
    session = test_client.v1.checkout.sessions.create(
        {
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 1}],
            "success_url": "https://shop.example/ok",
            "consent_collection": {"promotions": "auto"},
            "after_expiration": {"recovery": {"enabled": True}},
        }
    )
    kit.action(session.id, "shopper", email=email, promotions_consent="true")
    kit.action(session.id, "expire")
    return session.id


def test_test_mode_sessions_are_recorded_or_sent_to_the_team_only(kit, db):
    from portal.models import SendingSettings

    test_client = _test_mode_client(kit)
    recorded = _test_mode_checkout(kit, test_client, "tester@example.com")
    kit.settle()
    assert kit.sink.messages == [] and kit.case(recorded).reason == "test_mode"
    settings = db.get(SendingSettings, kit.merchant_id)
    settings.test_mode = "team"
    db.commit()
    to_team = _test_mode_checkout(kit, test_client, "tester2@example.com")
    kit.settle()
    assert [m.message["To"] for m in kit.sink.messages] == ["owner@bean.example"]
    assert kit.case(to_team).status in ("done", "scheduled")
    make_member(kit.merchant_id, "dev@bean.example")
    db.commit()
    # A team member tries their own checkout.
    own = _test_mode_checkout(kit, test_client, "Dev@Bean.example")
    kit.settle()
    assert [m.message["To"] for m in kit.sink.messages][1:] == ["dev@bean.example"]
    assert kit.case(own).status in ("done", "scheduled")
    # A member whose domain is kept in its xn-- form checks out with it in its letters.
    make_member(kit.merchant_id, "ida@xn--bcher-kva.example")
    db.commit()
    _test_mode_checkout(kit, test_client, "Ida@Bücher.example")
    kit.settle()
    assert [m.message["To"] for m in kit.sink.messages][2:] == ["ida@xn--bcher-kva.example"]


def test_the_carts_page_says_emailed_only_for_emails_a_server_took(
    kit, db, client, login, monkeypatch
):
    from factories import PASSWORD

    kit.sink.reject_recipients.add("bo@example.com")
    carts = {
        address: kit.checkout(address)
        for address in ("al@example.com", "bo@example.com", "cy@example.com", "di@example.com")
    }
    for session_id in carts.values():
        kit.action(session_id, "expire")
    kit.drain()
    for address in ("al@example.com", "bo@example.com"):
        kit.run(recovery.process, kit.case(carts[address]).id)
    with monkeypatch.context() as patch, pytest.raises(SystemExit):  # dies while SMTP has it
        patch.setattr(
            sending.delivery, "send", lambda *a: (_ for _ in ()).throw(SystemExit("killed"))
        )
        kit.run(recovery.process, kit.case(carts["cy@example.com"]).id)
    kit.run(sending.expire_claims, now=utcnow() + timedelta(minutes=11))
    db.get(SendingSettings, kit.merchant_id).reply_to = "not an address"  # saved before checks
    db.commit()
    assert kit.run(recovery.process, kit.case(carts["di@example.com"]).id) == "failed"
    assert login(client, "owner@bean.example", PASSWORD).status_code == 302
    # Addresses carry break points (<wbr>) for narrow screens: read without them.
    page = client.get("/carts/").get_data(as_text=True).replace("<wbr>", "")
    rows = re.split(r"<tr[ >]", page)[2:]
    expected = {
        "al@example.com": "Emailed",
        "bo@example.com": "The email bounced: the address is suppressed",
        "cy@example.com": "The email was interrupted while sending: it may not have arrived",
        "di@example.com": "The email could not be composed: nothing was sent",
    }
    for address, words in expected.items():
        row = next(r for r in rows if address in r)
        # (the words, then, for a cart still waiting, its next step's time)
        assert f'<td data-label="Decision" class="words">{words}<' in row, (address, row)
