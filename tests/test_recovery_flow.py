"""Recovery end to end: sandbox webhooks, the real worker, real SMTP (aiosmtpd on loopback)."""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from datetime import timedelta, timezone
from urllib.parse import urlsplit

import pytest
import requests
from rq import Queue
from sqlalchemy import select

from factories import PASSWORD, make_member
from helpers import post_form
from portal import db as portal_db
from portal import jobs, worker
from portal.db import utcnow
from portal.models import (
    ConsentChange,
    Contact,
    EmailSend,
    RecoveryCase,
    SendingSettings,
    StripeEvent,
    User,
)
from portal.services import events, recovery, sending


def _path(url: str) -> str:
    return urlsplit(url).path


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

    checked = client.head(_path(link))  # a link checker's HEAD leads there, and is no click
    assert checked.status_code == 303 and db.scalars(select(EmailSend)).one().clicked_at is None
    clicked = client.get(_path(link))
    case = kit.case(session_id)
    assert clicked.status_code == 303 and clicked.headers["Location"] == case.session.recovery_url
    db.expire_all()
    assert db.scalars(select(EmailSend)).one().clicked_at is not None

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


def test_duplicates_and_retries_never_send_twice(kit, db, client):
    session_id = kit.checkout("dee@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    case_id = kit.case(session_id).id
    for _ in range(3):  # RQ retries, a second worker, a stale job...
        assert kit.run(recovery.process, case_id) == "inactive"
    stored = db.scalars(select(StripeEvent.event_id)).all()
    assert kit.run(lambda: (events.replay(stored), db.commit())[0]) == len(
        stored
    )  # operator replay
    kit.settle()
    assert len(kit.sink.messages) == 1
    assert db.scalars(select(EmailSend)).one().status == "sent"


def test_a_4xx_is_retried_until_the_server_takes_it(kit, db):
    kit.sink.tempfail_rcpt = 1
    session_id = kit.checkout("eve@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    send = db.scalars(select(EmailSend)).one()
    assert send.status == "deferred" and kit.sink.messages == []
    assert kit.run(sending.retry_deferred, now=utcnow() + timedelta(minutes=2)) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    assert (send.status, send.attempts) == ("sent", 2) and len(kit.sink.messages) == 1


def test_the_sweep_queues_each_due_retry_as_its_own_job_once(kit, db, redis_conn):
    """A retry waits on the mail server and on Stripe, which can hang: the periodic sweep
    only queues it, so it never holds the sweep (which applies events and queues carts)."""
    kit.sink.tempfail_rcpt = 1
    kit.action(kit.checkout("ida@example.com"), "expire")
    kit.settle()
    send = db.scalars(select(EmailSend)).one()
    send.next_attempt_at, send_id = utcnow() - timedelta(seconds=1), send.id
    db.commit()
    mail = Queue("mail", connection=redis_conn)
    mail.empty()
    assert kit.run(jobs.tick)["sends_queued"] == 1
    assert kit.run(jobs.tick)["sends_queued"] == 0  # its job is waiting: not queued twice
    assert [job.func_name for job in mail.jobs] == ["portal.jobs.retry_send"]
    assert kit.sink.messages == [] and db.get(EmailSend, send_id).status == "deferred"
    worker.run(kit.app, redis_conn, [mail], burst=True)
    db.expire_all()
    assert db.get(EmailSend, send_id).status == "sent" and len(kit.sink.messages) == 1


def _deferred_send(kit, db, address: str) -> EmailSend:
    kit.sink.tempfail_rcpt = 100  # every try is answered 451
    session_id = kit.checkout(address)
    kit.action(session_id, "expire")
    kit.settle()
    send = db.scalars(select(EmailSend)).one()
    assert send.status == "deferred" and send.attempts == 1
    return send


def test_the_cart_page_says_when_a_deferred_email_is_tried_next(kit, db, client, login):
    from zoneinfo import ZoneInfo

    send = _deferred_send(kit, db, "ada@example.com")
    zone = db.get(SendingSettings, kit.merchant_id).timezone
    local = send.next_attempt_at.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone))
    login(client, "owner@bean.example", PASSWORD)
    page = client.get(f"/carts/{send.case_id}").get_data(as_text=True)
    assert "Email 1 is waiting to be tried again" in page
    assert f"Next try {local:%Y-%m-%d %H:%M} {local.tzname()}" in page


def test_a_deferred_email_is_given_up_24_hours_after_its_first_try(kit, db):
    send = _deferred_send(kit, db, "ava@example.com")
    first = send.created_at
    # The sweep that would come after 24 h gives up before asking the server again.
    assert kit.run(sending.retry_deferred, now=first + timedelta(hours=24, minutes=1)) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    assert (send.status, send.attempts) == (
        "failed",
        1,
    ) and "no retry past 24 h" in send.last_error
    assert kit.sink.tempfail_rcpt == 99  # only the first try reached the server


def test_a_retry_due_past_24_hours_is_not_scheduled(kit, db):
    send = _deferred_send(kit, db, "abe@example.com")
    first = send.created_at
    # The try 23 h 58 min in is refused too: the next one, 5 min later, would be past 24 h.
    assert kit.run(sending.retry_deferred, now=first + timedelta(hours=23, minutes=58)) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    assert (send.status, send.attempts, send.next_attempt_at) == ("failed", 2, None)
    from portal.services import carts

    assert carts.error_words(send.last_error).startswith(
        "Not tried again: the mail server put it off for 24 hours. Its last answer: RCPT TO"
    )
    assert carts._emails_in_words([send]).endswith("the mail server put it off for 24 hours")


def test_a_retry_waits_out_quiet_hours_and_stops_at_the_links_end(kit, db):
    send = _deferred_send(kit, db, "amy@example.com")
    retry_at = send.next_attempt_at + timedelta(seconds=1)
    settings = db.get(SendingSettings, kit.merchant_id)
    settings.timezone = "UTC"
    settings.quiet_start, settings.quiet_end = retry_at.hour, (retry_at.hour + 2) % 24
    db.commit()
    assert kit.run(sending.retry_deferred, now=retry_at) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    resume = retry_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    assert (send.status, send.attempts, send.next_attempt_at) == ("deferred", 1, resume)
    assert kit.sink.tempfail_rcpt == 99
    session = db.get(RecoveryCase, send.case_id).session
    session.recovery_expires_at = resume - timedelta(minutes=1)
    db.commit()
    assert kit.run(sending.retry_deferred, now=resume) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    assert send.status == "failed" and send.last_error.endswith("recovery_url_expired")
    assert kit.sink.messages == [] and kit.sink.tempfail_rcpt == 99


def test_two_sweeps_at_once_retry_a_deferred_email_once(kit, db):
    kit.sink.tempfail_rcpt = 1
    session_id = kit.checkout("eva@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    send_id = db.scalars(select(EmailSend.id)).one()
    later = utcnow() + timedelta(minutes=2)
    assert kit.run(sending._take_deferred, send_id, later) is not None  # a slow sweep has it
    assert kit.run(sending._take_deferred, send_id, later) is None  # so the next one cannot
    assert kit.run(sending.retry_deferred, now=later) == 0 and kit.sink.messages == []
    # The slow sweep's worker died before the hand-off: the claim comes back, and goes once.
    assert kit.run(sending.expire_claims, now=utcnow() + timedelta(minutes=11)) == 1
    assert kit.run(sending.retry_deferred, now=utcnow() + timedelta(minutes=12)) == 1
    assert kit.run(sending.retry_deferred, now=utcnow() + timedelta(minutes=13)) == 0
    assert [list(m.rcpt_tos) for m in kit.sink.messages] == [["eva@example.com"]]


def test_a_5xx_for_the_recipient_bounces_and_suppresses_the_address(kit, db):
    kit.sink.reject_recipients.add("fay@example.com")
    first = kit.checkout("fay@example.com")
    kit.action(first, "expire")
    kit.settle()
    assert db.scalars(select(EmailSend)).one().status == "bounced"
    contact = db.scalars(select(Contact)).one()
    assert contact.suppressed_at is not None and "bounced" in contact.suppressed_reason
    second = kit.checkout("fay@example.com")
    kit.action(second, "expire")
    kit.settle()
    assert kit.case(second).reason in ("suppressed", "unsubscribed")
    assert kit.sink.messages == []


def _expired_case(kit, email: str) -> int:
    """The case of a consenting shopper's expired cart, its event applied, not yet looked at."""
    session_id = kit.checkout(email)
    kit.action(session_id, "expire")
    kit.drain()
    return kit.case(session_id).id


def test_a_worker_killed_before_the_mail_server_heard_of_it_is_sent_again_once(
    kit, db, monkeypatch
):
    case_id = _expired_case(kit, "gus@example.com")

    def die(*args):  # the process is killed right after the claim was committed
        raise SystemExit("killed")

    with monkeypatch.context() as patch, pytest.raises(SystemExit):
        patch.setattr(sending, "_compose", die)
        kit.run(recovery.process, case_id)
    db.rollback()
    assert db.scalars(select(EmailSend.status)).one() == "claimed"
    # The step is taken: another look sends nothing while the claim may still be alive.
    assert kit.run(recovery.process, case_id) == "sequence_finished"
    assert kit.run(sending.expire_claims, now=utcnow() + timedelta(minutes=11)) == 1
    send = db.scalars(select(EmailSend)).one()
    assert send.status == "deferred" and "before the mail server heard of it" in send.last_error
    assert kit.run(sending.retry_deferred, now=utcnow() + timedelta(minutes=12)) == 1
    kit.settle()
    assert [list(m.rcpt_tos) for m in kit.sink.messages] == [["gus@example.com"]]
    db.expire_all()
    assert db.scalars(select(EmailSend.status)).one() == "sent"


def test_a_worker_killed_while_the_mail_server_had_it_leaves_unknown_never_resent(
    kit, db, monkeypatch
):
    case_id = _expired_case(kit, "guy@example.com")

    def die(*args):  # killed during the SMTP conversation: the server may have taken it
        raise SystemExit("killed")

    with monkeypatch.context() as patch, pytest.raises(SystemExit):
        patch.setattr(sending.delivery, "send", die)
        kit.run(recovery.process, case_id)
    db.rollback()
    send = db.scalars(select(EmailSend)).one()
    assert send.status == "claimed" and send.handed_at is not None
    assert kit.run(sending.expire_claims, now=utcnow() + timedelta(minutes=11)) == 1
    db.expire_all()
    assert db.scalars(select(EmailSend.status)).one() == "unknown"
    kit.settle()
    assert kit.sink.messages == []


def test_the_sweep_and_a_slow_worker_never_both_send_a_claim(kit, db, monkeypatch):
    case_id = _expired_case(kit, "ivy@example.com")
    real = sending._hand_off

    def slow_hand_off(send):  # the sweep gave the claim up before this worker got here
        kit.run(sending.expire_claims, now=utcnow() + timedelta(minutes=11))
        return real(send)

    with monkeypatch.context() as patch:
        patch.setattr(sending, "_hand_off", slow_hand_off)
        assert kit.run(recovery.process, case_id) == "already_claimed"
    assert kit.sink.messages == []
    assert kit.run(sending.retry_deferred, now=utcnow() + timedelta(minutes=12)) == 1
    kit.settle()
    assert [list(m.rcpt_tos) for m in kit.sink.messages] == [["ivy@example.com"]]


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


def test_a_promotion_step_mints_a_single_use_code_within_the_daily_cap(kit, db):
    from portal.models import SendingSettings

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
    (promotion,) = kit.client.v1.promotion_codes.list().data
    case = kit.case(first)
    assert promotion.code == codes["ida@example.com"] and promotion.max_redemptions == 1
    assert promotion.expires_at == int(case.session.recovery_expires_at.timestamp())


def test_the_merchant_reads_decisions_and_the_recovered_payment(kit, db, client, login):
    from factories import PASSWORD, make_owner

    bought, quiet = kit.checkout("kim@example.com"), kit.checkout("lou@example.com", consent=False)
    kit.action(bought, "expire")
    kit.action(quiet, "expire")
    kit.settle()
    text = kit.sink.messages[0].message.get_body(("plain",)).get_content()
    link = next(w for w in text.split() if w.startswith("https://portal.example/r/"))
    landing = requests.get(client.get(_path(link)).headers["Location"], timeout=5)
    kit.action(urlsplit(landing.url).path.rsplit("/", 1)[1], "pay", email="kim@example.com")
    kit.settle()
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
    # The timeline tells the story in order: expiry, re-check, email, click, payment.
    story = [
        "Checkout expired unpaid",
        "Re-checked with Stripe: no later checkout",
        "Email 1 sent to kim@example.com",
        "Shopper clicked the link in email 1",
        "Paid $36.00: recovered",
    ]
    places = [detail.index(line) for line in story]
    assert places == sorted(places)
    payment = client.get(f"/payments/{case.id}").get_data(as_text=True)
    assert 'class="badge">Recovered</span>' in payment and "after email 1" in payment
    make_owner(email="other@example.com")
    other = client.application.test_client()
    login(other, "other@example.com", PASSWORD)
    assert other.get(f"/carts/{case.id}").status_code == 404
    assert "kim@" not in other.get("/carts/").get_data(as_text=True)


def test_follow_ups_go_out_on_schedule_and_stop_at_recovery(kit, db, client, login):
    from portal.models import SendingSettings

    settings = db.get(SendingSettings, kit.merchant_id)
    settings.steps = [{"delay_minutes": 0}, {"delay_minutes": 60}, {"delay_minutes": 1440}]
    db.commit()
    session_id = kit.checkout("max@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    case = kit.case(session_id)
    assert len(kit.sink.messages) == 1 and case.status == "scheduled"
    assert case.next_action_at == case.session.expired_at + timedelta(minutes=60)
    assert kit.later(session_id, hours=0.5) == "wait"  # the second step is not due yet
    assert kit.later(session_id, hours=1.1) == "sent"
    assert len(kit.sink.messages) == 2
    text = kit.sink.messages[-1].message.get_body(("plain",)).get_content()
    link = next(w for w in text.split() if w.startswith("https://portal.example/r/"))
    landing = requests.get(client.get(_path(link)).headers["Location"], timeout=5)
    kit.action(urlsplit(landing.url).path.rsplit("/", 1)[1], "pay", email="max@example.com")
    kit.settle()
    case = kit.case(session_id)
    # The second email was sent on a simulated clock (+1.1 h), after this real-time payment, so
    # the credit goes to the first; in production both clocks are the same.
    assert (case.status, case.reason, case.recovered_step) == ("done", "recovered", 0)
    assert kit.later(session_id, hours=25) == "inactive"  # the third step never goes out
    assert len(kit.sink.messages) == 2
    # The cart's page says so: the third email was scheduled, and will not go.
    owner = db.scalars(select(User).where(User.merchant_id == kit.merchant_id)).first()
    assert login(client, owner.email, PASSWORD).status_code == 302
    page = client.get(f"/carts/{case.id}").get_data(as_text=True)
    # (in the order of this test's two clocks, see above)
    assert "Email 3 scheduled" in page
    assert "Email 3 will not be sent: the cart was recovered" in page


@pytest.mark.parametrize("by", ["shopper", "merchant"])
def test_an_unsubscribe_stops_the_waiting_follow_up_at_once_on_the_carts_page(
    kit, db, client, login, by
):
    settings = db.get(SendingSettings, kit.merchant_id)
    settings.steps = [{"delay_minutes": 0}, {"delay_minutes": 60}]
    db.commit()
    session_id = kit.checkout("lou@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    assert kit.case(session_id).status == "scheduled" and len(kit.sink.messages) == 1
    owner = db.scalars(select(User).where(User.merchant_id == kit.merchant_id)).first()
    if by == "shopper":
        url = kit.sink.messages[0].message["List-Unsubscribe"].strip("<>")
        assert client.post(_path(url)).status_code == 200
    login(client, owner.email, PASSWORD)
    if by == "merchant":
        page = "/subscriptions/customer?email=lou@example.com"
        data = {"email": "lou@example.com", "status": "unsubscribed"}
        post_form(client, "/subscriptions/customer/status", data, page=page)
    db.expire_all()
    case = kit.case(session_id)
    # No sweep or worker ran since: the request itself stopped the second email.
    assert (case.status, case.reason) == ("skipped", "unsubscribed")
    page = client.get(f"/carts/{case.id}").get_data(as_text=True)
    assert "Stopped:" in page and "unsubscribed" in page
    assert "Agreed at this checkout" in page and ">Unsubscribed</a> since" in page
    assert kit.later(session_id, hours=2) == "inactive" and len(kit.sink.messages) == 1


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


def test_test_mode_sessions_are_recorded_or_sent_to_the_team_only(kit, db):
    import stripe as stripe_sdk

    from portal.models import SendingSettings

    test_client = stripe_sdk.StripeClient(
        "sk_test_sandbox_platform",
        stripe_account=kit.account,
        base_addresses={"api": kit.sandbox.base, "connect": kit.sandbox.base},
    )

    def test_checkout(email: str) -> str:
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

    recorded = test_checkout("tester@example.com")
    kit.settle()
    assert kit.sink.messages == [] and kit.case(recorded).reason == "test_mode"
    settings = db.get(SendingSettings, kit.merchant_id)
    settings.test_mode = "team"
    db.commit()
    to_team = test_checkout("tester2@example.com")
    kit.settle()
    assert [m.message["To"] for m in kit.sink.messages] == ["owner@bean.example"]
    assert kit.case(to_team).status in ("done", "scheduled")
    make_member(kit.merchant_id, "dev@bean.example")
    db.commit()
    own = test_checkout("Dev@Bean.example")  # a team member tries their own checkout
    kit.settle()
    assert [m.message["To"] for m in kit.sink.messages][1:] == ["dev@bean.example"]
    assert kit.case(own).status in ("done", "scheduled")


def test_stripe_unreachable_at_send_time_means_wait_never_send_blind(kit, db, app, monkeypatch):
    session_id = kit.checkout("ned@example.com")
    kit.action(session_id, "expire")
    kit.drain()
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")
    case_id = kit.case(session_id).id
    assert kit.run(recovery.process, case_id) == "stripe_unavailable"
    case = kit.case(session_id)
    assert (
        case.status == "scheduled" and case.next_action_at > utcnow() and kit.sink.messages == []
    )
    retry_at = case.next_action_at
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", kit.sandbox.base)
    assert kit.run(recovery.process, case_id, now=retry_at) == "sent"
    assert len(kit.sink.messages) == 1
    # The trace keeps both looks: Stripe silent (and when to look again), then Stripe's answer.
    from portal.models import CaseEvent

    trace = [(e.kind, e.detail) for e in db.query(CaseEvent).filter_by(case_id=case_id)]
    assert [kind for kind, _ in trace] == ["recheck_failed", "rechecked", "decided"]
    assert trace[0][1]["retry_at"] == retry_at.isoformat()
    assert trace[1][1] == {"later": None, "step": 0}
    assert trace[2][1]["reason"] == "sequence_finished"


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


def test_a_deferred_retry_asks_stripe_again_and_a_purchase_meanwhile_cancels_it(
    kit, db, app, monkeypatch
):
    kit.sink.tempfail_rcpt = 1
    abandoned = kit.checkout("jo@example.com")
    kit.action(abandoned, "expire")
    kit.settle()
    assert db.scalars(select(EmailSend.status)).one() == "deferred"
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")  # Stripe away
    assert kit.run(sending.retry_deferred, now=utcnow() + timedelta(minutes=2)) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    assert (send.status, send.attempts) == ("deferred", 1) and kit.sink.messages == []
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", kit.sandbox.base)
    bought = kit.checkout("jo@example.com")  # a new checkout, paid before the retry
    kit.action(bought, "pay", email="jo@example.com")
    assert kit.run(sending.retry_deferred, now=utcnow() + timedelta(minutes=5)) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    assert send.status == "failed" and "completed_elsewhere" in send.last_error
    assert kit.sink.messages == []


def test_a_name_stored_with_a_line_break_is_sent_on_one_line_never_blocks_sending(kit, db):
    db.get(SendingSettings, kit.merchant_id).sender_name = "Bean\r\nBcc: thief@evil.example"
    db.commit()  # as saved before names were checked
    session_id = kit.checkout("kim@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    (received,) = kit.sink.messages
    assert received.message["From"].addresses[0].display_name == "Bean Bcc: thief@evil.example"
    assert received.message["Bcc"] is None and received.rcpt_tos == ("kim@example.com",)


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
        assert f'<td data-label="Decision" class="words">{words}</td>' in row, (address, row)


def test_an_expiry_stamped_ahead_of_our_clock_is_scheduled_from_our_clock(kit, db):
    db.get(SendingSettings, kit.merchant_id).steps = [{"delay_minutes": 60}]
    db.commit()
    session_id = kit.checkout("oz@example.com")
    advanced = requests.post(
        f"{kit.sandbox.base}/_sandbox/clock/advance", data={"seconds": 5 * 3600}, timeout=5
    )
    assert advanced.status_code == 200  # Stripe's clock is now five hours ahead of the portal's
    kit.action(session_id, "expire")
    kit.drain()
    before = utcnow()
    assert kit.run(recovery.process, kit.case(session_id).id) == "wait"
    case = kit.case(session_id)
    assert case.session.expired_at > before + timedelta(hours=4)
    assert before + timedelta(minutes=58) < case.next_action_at < before + timedelta(minutes=61)


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


def test_a_retry_a_rule_stopped_is_told_in_words_the_servers_own_as_it_said_them():
    from portal.services import carts

    stopped = carts.error_words("cancelled before retry: completed_elsewhere")
    assert stopped == "Not tried again. The shopper bought in a later checkout."
    assert (
        carts.error_words("RCPT TO refused: 550 5.1.1 gone") == "RCPT TO refused: 550 5.1.1 gone"
    )
    assert carts.error_words(None) == ""
    stopped_send = EmailSend(status="failed", last_error="cancelled before retry: unsubscribed")
    assert carts._emails_in_words([stopped_send]) == (
        "The email was not tried again: the address is unsubscribed"
    )


def test_a_change_of_settings_moves_the_carts_already_waiting(kit, db):
    settings = db.get(SendingSettings, kit.merchant_id)
    settings.steps = [{"delay_minutes": 120}]
    db.commit()
    waiting, other = kit.checkout("wes@example.com"), kit.checkout("wyn@example.com")
    kit.action(waiting, "expire")
    kit.action(other, "expire")
    kit.settle()
    due = kit.case(waiting).next_action_at
    assert kit.sink.messages == [] and due > utcnow() + timedelta(minutes=110)
    assert kit.run(recovery.reconsider, kit.merchant_id) == 0  # nothing changed: left alone
    settings = db.get(SendingSettings, kit.merchant_id)
    settings.steps = [{"delay_minutes": 240}]  # later: the cart waits longer
    db.commit()
    assert kit.run(recovery.reconsider, kit.merchant_id) == 2
    assert kit.case(waiting).next_action_at == due + timedelta(minutes=120)
    settings = db.get(SendingSettings, kit.merchant_id)
    settings.steps = [{"delay_minutes": 0}]  # at once: due now, sent by the next sweep
    db.commit()
    assert kit.run(recovery.reconsider, kit.merchant_id) == 2
    kit.settle()
    assert sorted(list(m.rcpt_tos) for m in kit.sink.messages) == [
        ["wes@example.com"],
        ["wyn@example.com"],
    ]


def test_quiet_hours_may_follow_the_shoppers_billing_country(kit, db):
    from zoneinfo import ZoneInfo

    session_id = kit.checkout("tomo@example.com")
    kit.action(session_id, "expire")
    kit.drain()
    case = kit.case(session_id)
    case.session.country = "JP"  # as the checkout's billing address said
    expired = min(case.session.expired_at, case.created_at)
    tokyo = expired.astimezone(ZoneInfo("Asia/Tokyo"))
    settings = db.get(SendingSettings, kit.merchant_id)
    settings.timezone, settings.quiet_zone = "UTC", "shopper"  # 9 hours from Tokyo's clock
    settings.quiet_start, settings.quiet_end = tokyo.hour, (tokyo.hour + 2) % 24
    db.commit()
    assert kit.later(session_id, hours=0) == "wait" and kit.sink.messages == []
    resume = tokyo.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    assert kit.case(session_id).next_action_at == resume.astimezone(timezone.utc)


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


def test_a_cart_learnt_of_days_late_gets_its_follow_ups_spaced_not_at_once(kit, db):
    settings = db.get(SendingSettings, kit.merchant_id)
    settings.steps = [{"delay_minutes": 0}, {"delay_minutes": 60}, {"delay_minutes": 1440}]
    db.commit()
    session_id = kit.checkout("lia@example.com")
    kit.action(session_id, "expire")
    kit.drain()
    assert kit.later(session_id, hours=72) == "sent"  # the first email, three days late
    case = kit.case(session_id)
    expired = min(case.session.expired_at, case.created_at)
    # Email 2 an hour after email 1, as the settings space them, not at once.
    assert case.next_action_at == expired + timedelta(hours=73)
