"""Recovery end to end: follow-ups on schedule, stopped, moved by settings and quiet hours."""

from __future__ import annotations

import re

from datetime import timedelta, timezone
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from factories import PASSWORD
from helpers import post_form
from portal.db import utcnow
from portal.models import SendingSettings, User
from portal.services import recovery
from recovery_flow_kit import _path


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
    owner = db.scalars(select(User).where(User.merchant_id == kit.merchant_id)).first()
    assert login(client, owner.email, PASSWORD).status_code == 302
    listed = client.get("/carts/?show=waiting").get_data(as_text=True)
    # The list says a follow-up is coming, and when, as the cart's own page does.
    assert re.search(r'Emailed<br><span class="muted">Next step \w{3} \d{1,2}, \d{4}, ', listed)
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
