"""Recovery end to end: who gets no email (no consent, a later checkout, erasure, the holdout)."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import select

from portal import db as portal_db
from portal.db import utcnow
from portal.models import ConsentChange, Contact, EmailSend, SendingSettings
from recovery_flow_kit import _path


def test_no_consent_no_email_and_the_decision_is_recorded(kit, db):
    session_id = kit.checkout("quiet@example.com", consent=False)
    kit.action(session_id, "expire")
    kit.settle()
    assert kit.sink.messages == []
    case = kit.case(session_id)
    assert (case.status, case.reason) == ("skipped", "no_consent")


def test_a_then_b_only_b_gets_an_email(kit, db):
    a = kit.checkout("ann@example.com")
    b = kit.checkout("ann@example.com")
    kit.action(a, "expire")
    kit.action(b, "expire")
    kit.drain()
    assert kit.later(a) == "later_session"  # the send-time re-check asks Stripe
    assert kit.later(b) == "sent"
    assert [m.message["To"] for m in kit.sink.messages] == ["ann@example.com"]


def test_a_then_a_completed_b_nobody_gets_an_email(kit, db):
    a = kit.checkout("bo@example.com")
    b = kit.checkout("bo@example.com")
    kit.action(a, "expire")
    kit.action(b, "pay", email="bo@example.com")
    kit.drain()
    assert kit.later(a) == "completed_elsewhere"
    assert kit.sink.messages == []


@pytest.mark.parametrize("customer", ["cus_1Cy", "acct_1CyAsCustomer"])
def test_an_open_later_session_webhooks_cannot_see_stops_the_email(kit, db, customer):
    a = kit.checkout("cy@example.com", customer=customer)
    kit.checkout("someone-else@example.com", customer=customer)  # same shopper, still open
    kit.action(a, "expire")
    kit.settle()
    assert kit.sink.messages == [] and kit.case(a).reason == "later_session"


@pytest.mark.parametrize(
    "meanwhile, reason", [("unsubscribe", "unsubscribed"), ("emails_off", "merchant_disabled")]
)
def test_what_the_portal_learns_while_stripe_is_asked_stops_that_email(
    kit, db, monkeypatch, meanwhile, reason
):
    from portal.models import Merchant
    from portal.services import case_context, shopper

    asked = case_context.later_session

    def request():  # another request of the portal, with its own session and connection
        with kit.app.app_context():
            if meanwhile == "unsubscribe":
                now = utcnow()
                shopper.unsubscribe(kit.merchant_id, "rue@example.com", "unsubscribe_link", now)
            else:
                portal_db.session.get(Merchant, kit.merchant_id).recovery_enabled = False
            portal_db.session.commit()

    def slow_stripe(ctx):  # Stripe answers; meanwhile, that request commits
        answer = asked(ctx)
        other = threading.Thread(target=request)
        other.start()
        other.join(10)
        return answer

    monkeypatch.setattr(case_context, "later_session", slow_stripe)
    session_id = kit.checkout("rue@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    assert kit.sink.messages == [] and db.scalars(select(EmailSend)).all() == []
    assert kit.case(session_id).reason == reason


def test_an_unsubscribe_made_while_a_cart_was_open_stands_when_that_cart_expires(kit, db, client):
    db.get(SendingSettings, kit.merchant_id).frequency_cap_hours = 0  # only consent may stop it
    db.commit()
    first = kit.checkout("ida@example.com")
    kit.action(first, "expire")
    kit.settle()
    second = kit.checkout("ida@example.com")  # ticked again; the cart stays open for now
    (received,) = kit.sink.messages
    unsubscribe = client.post(_path(received.message["List-Unsubscribe"].strip("<>")))
    assert unsubscribe.status_code == 200
    time.sleep(1.1)  # Stripe's times have whole seconds: the cart expires a clear second later
    kit.action(second, "expire")
    kit.settle()
    assert len(kit.sink.messages) == 1 and kit.case(second).reason == "unsubscribed"
    assert db.scalars(select(Contact.status)).one() == "unsubscribed"


def test_an_erased_address_is_never_emailed_again_even_after_a_new_checkout(kit, db, client):
    from portal.models import EmailSend, Merchant
    from portal.services import subscriptions

    first = kit.checkout("Erin@Example.com")
    kit.action(first, "expire")
    kit.settle()
    assert [m.message["To"] for m in kit.sink.messages] == ["erin@example.com"]
    unsubscribe_url = kit.sink.messages[0].message["List-Unsubscribe"].strip("<>")

    def erase() -> bool:
        merchant = db.get(Merchant, kit.merchant_id)
        erased = subscriptions.erase(merchant, "ERIN@example.com", kit.app.config["SECRET_KEY"])
        db.commit()
        return erased

    assert kit.run(erase)
    second = kit.checkout("erin@example.com")  # she consents again on a new cart
    kit.action(second, "expire")
    kit.settle()
    assert len(kit.sink.messages) == 1  # nothing more
    assert kit.case(second).reason == "suppressed"
    # Nor is her new tick recorded: the list never counts her as subscribed again.
    db.expire_all()
    assert db.scalars(select(Contact.email)).all() == []
    assert db.scalars(select(ConsentChange.email)).all() == []
    assert db.scalars(select(EmailSend.to_address)).all() == [
        next(a for a in db.scalars(select(EmailSend.to_address)) if a.startswith("erased:"))
    ]
    # Her old email's unsubscribe link neither shows nor records the erased address.
    page = client.get(_path(unsubscribe_url)).get_data(as_text=True)
    assert "erin@example.com" not in page and "erased:" not in page
    client.post(_path(unsubscribe_url), data={"List-Unsubscribe": "One-Click"})
    assert not [a for a in db.scalars(select(Contact.email)) if a.startswith("erased:")]


def test_the_holdout_is_drawn_once_past_every_rule_and_a_later_purchase_counts(kit, db):
    """Eligible carts fall in the emailed group or the held-out one (by the session's own draw);
    a cart stopped by a rule before the draw is in neither. A held-out shopper who buys again
    in a new checkout is counted as having bought, as is an emailed one."""
    from portal.services.rules import in_holdout

    db.get(SendingSettings, kit.merchant_id).holdout_percent = 50
    db.get(SendingSettings, kit.merchant_id).frequency_cap_hours = 0
    db.commit()
    carts = [kit.checkout(f"h{i}@example.com") for i in range(8)]
    quiet = kit.checkout("no-consent@example.com", consent=False)
    for session_id in [*carts, quiet]:
        kit.action(session_id, "expire")
    kit.settle()
    assert kit.case(quiet).holdout is None and kit.case(quiet).reason == "no_consent"
    held = [s for s in carts if in_holdout(s, 0.5)]
    assert held and len(held) < len(carts)  # both groups present with these ids
    for session_id in carts:
        case = kit.case(session_id)
        assert case.holdout is (session_id in held)
        assert (case.emailed_at is None) is (session_id in held)
    buyer = held[0]
    again = kit.checkout(f"h{carts.index(buyer)}@example.com")
    kit.action(again, "pay", email=f"h{carts.index(buyer)}@example.com")
    kit.settle()
    db.commit()  # a fresh read (on SQLite an open transaction would not see the purchase)
    bought = kit.case(buyer)
    assert bought.purchased_at is not None and bought.recovered_at is None
    assert all(kit.case(s).purchased_at is None for s in carts if s != buyer)


def test_a_later_checkout_is_the_gate_named_before_the_holdout_or_the_cap(kit, db):
    from portal.services import rules

    # Holdout: a cart that a later purchase stops is not counted in the held-out group.
    a = kit.checkout("hal@example.com")
    b = kit.checkout("hal@example.com")
    kit.action(b, "pay", email="hal@example.com")
    kit.action(a, "expire")
    kit.drain()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(rules, "in_holdout", lambda session_id, share: True)
        assert kit.later(a) == "completed_elsewhere"
    assert kit.case(a).holdout is None
    # Frequency cap: the later cart was emailed first; the earlier one is stopped by it.
    c = kit.checkout("cap@example.com")
    d = kit.checkout("cap@example.com")
    kit.action(d, "expire")
    kit.settle()
    assert [list(m.rcpt_tos) for m in kit.sink.messages] == [["cap@example.com"]]
    kit.action(c, "expire")
    kit.settle()
    assert kit.case(c).reason == "later_session" and len(kit.sink.messages) == 1


def test_an_international_domain_is_written_to_in_its_ascii_form(kit, db):
    # The envelope and To: carry the domain as xn-- (no SMTPUTF8 needed, so every server takes
    # it); letters outside ASCII before the @ cannot go without SMTPUTF8: no email, in words.
    reachable = kit.checkout("jose@exämple.de")
    unreachable = kit.checkout("josé@exämple.de", customer="cus_other")
    kit.action(reachable, "expire")
    kit.action(unreachable, "expire")
    kit.settle()
    (received,) = kit.sink.messages
    assert received.message["To"] == "jose@xn--exmple-cua.de"
    assert received.rcpt_tos == ("jose@xn--exmple-cua.de",)
    case = kit.case(unreachable)
    assert (case.status, case.reason) == ("skipped", "no_email")


def test_a_trial_address_on_a_test_domain_gets_its_email(kit, db):
    # A merchant trying the sandbox shop types a made-up address: .test is reserved for that.
    session_id = kit.checkout("trial@shop.test")
    kit.action(session_id, "expire")
    kit.settle()
    assert [m.message["To"] for m in kit.sink.messages] == ["trial@shop.test"]
