"""Recovery end to end: the email a consenting shopper gets, its design, language and code."""

from __future__ import annotations

import dataclasses

import requests

from sqlalchemy import select

from portal.models import ConsentChange, Contact, EmailSend, SendingSettings
from recovery_flow_kit import _path


def _assert_a_click_leads_back_but_a_head_is_no_click(kit, client, db, session_id: str, link: str):
    """A link checker's HEAD leads to the cart too but counts no click; a GET counts one."""
    checked = client.head(_path(link))  # a link checker's HEAD leads there, and is no click
    assert checked.status_code == 303 and db.scalars(select(EmailSend)).one().clicked_at is None
    clicked = client.get(_path(link))
    case = kit.case(session_id)
    assert clicked.status_code == 303 and clicked.headers["Location"] == case.session.recovery_url
    db.expire_all()
    assert db.scalars(select(EmailSend)).one().clicked_at is not None


def _assert_one_click_unsubscribes_and_a_get_never_does(client, db, unsubscribe_url: str):
    """The unsubscribe page asks first; only the one-click POST unsubscribes, and only once."""
    confirm = client.get(_path(unsubscribe_url))
    assert confirm.status_code == 200 and "Unsubscribe from Bean Shop?" in confirm.get_data(
        as_text=True
    )
    assert db.scalars(select(Contact)).one().status == "subscribed"  # GET never unsubscribes
    one_click = client.post(_path(unsubscribe_url), data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200
    db.expire_all()
    assert db.scalars(select(Contact)).one().status == "unsubscribed"
    again = client.get(_path(unsubscribe_url)).get_data(as_text=True)
    assert "You are already unsubscribed" in again and "<form" not in again
    assert db.scalars(select(ConsentChange.source).order_by(ConsentChange.id)).all() == [
        "checkout_session",
        "one_click",
    ]


def test_a_consenting_shopper_gets_one_complete_email(kit, client, db):
    session_id = kit.checkout("Sam@Example.com")
    kit.action(session_id, "expire")
    kit.settle()
    (received,) = kit.sink.messages
    message = received.message
    assert message["To"] == "sam@example.com" and "Bean Shop" in message["From"]
    assert "recovery@portal.example" in message["From"] and "Bean Shop" in message["Subject"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe_url.startswith("https://portal.example/u/")
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Single-origin beans" in text and "Single-origin beans" in html and "$36.00" in text
    assert "Bristol" in text and unsubscribe_url in text
    link = next(w for w in text.split() if w.startswith("https://portal.example/r/"))
    assert f'href="{link}"' in html
    send = db.scalars(select(EmailSend)).one()
    assert (send.status, send.step, send.to_address) == ("sent", 0, "sam@example.com")

    _assert_a_click_leads_back_but_a_head_is_no_click(kit, client, db, session_id, link)

    _assert_one_click_unsubscribes_and_a_get_never_does(client, db, unsubscribe_url)


def test_the_email_uses_the_saved_design_records_its_version_and_the_shoppers_language(
    kit, client, db, login
):
    from factories import PASSWORD

    from portal.mail.content import DEFAULT_CONTENT
    from portal.models import Merchant
    from portal.services import email_design

    merchant = db.get(Merchant, kit.merchant_id)
    settings = db.get(SendingSettings, kit.merchant_id)
    first = email_design.save(merchant, None, 0, email_design.default_design(settings, 0))
    design = email_design.Design(
        dataclasses.replace(DEFAULT_CONTENT, headline="Your beans miss you, {customer_name}"),
        None,
        "#7a3e12",
    )
    second = email_design.save(merchant, None, 0, design)
    db.commit()
    session_id = kit.checkout("Fleur@Example.com", locale="fr")
    kit.action(session_id, "expire")
    kit.settle()
    (received,) = kit.sink.messages
    html = received.message.get_body(("html",)).get_content()
    text = received.message.get_body(("plain",)).get_content()
    # No name from the sandbox's checkout: the name and its comma are left out.
    assert "Your beans miss you\r\n" in text and "Your beans miss you</h1>" in html
    assert "#7a3e12" in html
    assert "36,00\u00a0$US" in text or "36,00\u202f$US" in text, text  # Babel's French
    send = db.scalars(select(EmailSend)).one()
    assert send.email_version_id == second.id != first.id
    login(client, "owner@bean.example", PASSWORD)
    page = client.get(f"/carts/{kit.case(session_id).id}").get_data(as_text=True)
    assert "Version 2, saved" in page


def test_a_promotion_step_mints_a_single_use_code_within_the_daily_cap(kit, db, monkeypatch):
    from helpers import transactions_during
    from portal.models import SendingSettings
    from portal.services import stripe_gateway

    # No transaction (on SQLite, the write lock) is open while Stripe answers.
    held = transactions_during(monkeypatch, stripe_gateway, "create_promotion_code")

    coupon = kit.client.v1.coupons.create({"percent_off": 10, "duration": "once"})
    settings = db.get(SendingSettings, kit.merchant_id)
    settings.steps = [{"delay_minutes": 0, "promotion": True}]
    settings.coupon_id, settings.promotion_daily_cap = coupon.id, 1
    db.commit()
    first, second = kit.checkout("ida@example.com"), kit.checkout("jon@example.com")
    kit.action(first, "expire")
    kit.action(second, "expire")
    kit.settle()
    codes = dict(db.execute(select(EmailSend.to_address, EmailSend.promotion_code)).all())
    assert (
        codes["ida@example.com"].startswith("BACK-") and codes["jon@example.com"] is None
    )  # cap of 1
    mails = {
        m.message["To"]: m.message.get_body(("plain",)).get_content() for m in kit.sink.messages
    }
    assert (
        codes["ida@example.com"] in mails["ida@example.com"]
        and "BACK-" not in mails["jon@example.com"]
    )
    assert held == [False]
    (promotion,) = kit.client.v1.promotion_codes.list().data
    case = kit.case(first)
    assert promotion.code == codes["ida@example.com"] and promotion.max_redemptions == 1
    assert promotion.expires_at == int(case.session.recovery_expires_at.timestamp())


def test_a_name_stored_with_a_line_break_is_sent_on_one_line_never_blocks_sending(kit, db):
    db.get(SendingSettings, kit.merchant_id).sender_name = "Bean\r\nBcc: thief@evil.example"
    db.commit()  # as saved before names were checked
    session_id = kit.checkout("kim@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    (received,) = kit.sink.messages
    assert received.message["From"].addresses[0].display_name == "Bean Bcc: thief evil.example"
    assert received.message["Bcc"] is None and received.rcpt_tos == ("kim@example.com",)


def test_a_business_name_stored_like_an_address_is_sent_without_its_marks(kit, db):
    from portal.models import Merchant

    db.get(SendingSettings, kit.merchant_id).sender_name = ""
    db.get(Merchant, kit.merchant_id).name = "Bank <help@bank.example>"
    db.commit()  # as saved before business names were checked
    session_id = kit.checkout("lee@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    (received,) = kit.sink.messages
    sender = received.message["From"].addresses[0]
    assert sender.display_name == "Bank help bank.example" and "<" not in sender.display_name


def test_marks_that_turn_or_hide_text_in_a_shoppers_name_never_reach_the_subject(kit, db):
    from portal.services import email_design
    from portal.models import Merchant

    settings = db.get(SendingSettings, kit.merchant_id)
    design = email_design.default_design(settings, 0)
    design = dataclasses.replace(
        design,
        content=dataclasses.replace(design.content, subject="Hi {customer_name}, your cart"),
    )
    email_design.save(db.get(Merchant, kit.merchant_id), None, 0, design)
    db.commit()
    session_id = kit.checkout("kim@example.com")
    typed = "\u202enoitca deriuqer\u2066 x\u2069 \u200bDana \u05d3\u05e0\u05d4"
    shopper = f"{kit.sandbox.base}/_sandbox/checkout/sessions/{session_id}/shopper"
    assert requests.post(shopper, data={"name": typed}, timeout=10).ok  # name: action()'s own
    kit.action(session_id, "expire")
    kit.settle()
    (received,) = kit.sink.messages
    subject = received.message["Subject"]
    assert subject == "Hi noitca deriuqer x Dana \u05d3\u05e0\u05d4, your cart"  # letters kept
