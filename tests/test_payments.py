"""Recovered payments and the abandoned-carts list: keyset pages without gaps or repeats while
rows are added, totals per currency, the Stripe Dashboard link, the session timeline in words,
and tenant isolation (another merchant's ids are 404)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest

from factories import PASSWORD, make_owner

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def _case(db, merchant_id, n, *, paid_at=None, amount=1000, currency="usd", **session):
    """An expired session and its case; credited with a payment at `paid_at` if given."""
    from portal.models import CheckoutSession, RecoveryCase

    expired = T0 + timedelta(minutes=n)
    s = CheckoutSession(
        merchant_id=merchant_id,
        session_id=f"cs_test_{merchant_id}_{n}",
        livemode=session.pop("livemode", False),
        created_at=expired - timedelta(hours=1),
        expired_at=expired,
        status="expired",
        payment_status="unpaid",
        amount_total=amount,
        currency=currency,
        email=session.pop("email", f"shopper{n}@example.com"),
        state_at=expired,
        **session,
    )
    db.add(s)
    db.flush()
    case = RecoveryCase(
        merchant_id=merchant_id, checkout_session_id=s.id, status="done", expired_at=expired
    )
    if paid_at is not None:
        case.reason, case.recovered_at = "recovered", paid_at
        case.recovered_session_id = f"cs_test_paid_{merchant_id}_{n}"
        case.recovered_amount, case.recovered_currency = amount, currency
    db.add(case)
    db.flush()
    return case


def _ids(html: str, prefix: str) -> list[int]:
    return [int(i) for i in dict.fromkeys(re.findall(rf'href="/{prefix}/(\d+)"', html))]


def _next(html: str) -> str | None:
    found = re.search(r'rel="next" href="([^"]+)"', html)
    return found.group(1).replace("&amp;", "&") if found else None


@pytest.fixture
def merchant(db, client, login):
    owner = make_owner(email="owner@shop.example")
    assert login(client, "owner@shop.example", PASSWORD).status_code == 302
    return owner.merchant_id


def test_payment_pages_have_no_gaps_or_repeats_while_payments_arrive(db, client, merchant):
    for n in range(120):
        _case(db, merchant, n, paid_at=T0 + timedelta(days=1, minutes=n % 40))  # many ties
    db.commit()
    seen, url, added = [], "/payments/", 0
    while url:
        html = client.get(url).get_data(as_text=True)
        seen += _ids(html, "payments")
        url = _next(html)
        # Between pages: a new payment (newest) and a late one credited in the past.
        _case(db, merchant, 500 + added, paid_at=T0 + timedelta(days=3))
        _case(db, merchant, 600 + added, paid_at=T0 - timedelta(days=3))
        db.commit()
        added += 1
    assert len(seen) == len(set(seen))  # no repeats
    from portal.models import RecoveryCase

    first_120 = {c.id for c in db.query(RecoveryCase).filter(RecoveryCase.id <= max(seen))}
    assert first_120 - set(seen) <= {
        c.id for c in db.query(RecoveryCase).filter(RecoveryCase.recovered_at > T0 + timedelta(2))
    }  # nothing that existed before paging began was skipped


def test_payments_list_orders_newest_first_and_totals_each_currency(db, client, merchant):
    a = _case(db, merchant, 1, paid_at=T0 + timedelta(hours=1), amount=1500, currency="usd")
    b = _case(db, merchant, 2, paid_at=T0 + timedelta(hours=2), amount=2000, currency="eur")
    _case(db, merchant, 3)  # expired, never recovered: not a payment
    db.commit()
    html = client.get("/payments/").get_data(as_text=True)
    assert _ids(html, "payments") == [b.id, a.id]
    assert "$15.00" in html and "€20.00" in html and "$35.00" not in html
    assert "Recovered in EUR" in html and "Recovered in USD" in html


def test_a_period_of_payments_is_whole_days_in_the_merchants_zone_as_on_the_dashboard(
    db, client, merchant
):
    from portal.models import SendingSettings
    from portal.services.dashboard import period_for

    db.add(SendingSettings(merchant_id=merchant, timezone="Asia/Tokyo"))
    week = period_for(7, "Asia/Tokyo", datetime.now(timezone.utc))
    inside = _case(db, merchant, 1, paid_at=week.start + timedelta(minutes=1), livemode=True)
    # Within 7 × 24 hours of now, but on the Tokyo day before the week's first.
    before = _case(db, merchant, 2, paid_at=week.start - timedelta(minutes=1), livemode=True)
    db.commit()
    html = client.get("/payments/?days=7").get_data(as_text=True)
    assert _ids(html, "payments") == [inside.id] and before.id in _ids(
        client.get("/payments/").get_data(as_text=True), "payments"
    )
    assert f"Paid from {week.first:%b} {week.first.day}, {week.first.year} to" in html
    assert "1 payment<" in html


def _case_recovered_by_email_one(db, merchant):
    """A cart emailed, clicked, then paid through its recovery checkout (a test-mode payment)."""
    from portal.models import CheckoutSession, EmailSend

    case = _case(db, merchant, 1, paid_at=T0 + timedelta(hours=5), amount=4200)
    case.recovered_step = 0
    db.add(
        EmailSend(
            merchant_id=merchant,
            case_id=case.id,
            step=0,
            to_address="shopper1@example.com",
            status="sent",
            message_id="<m1@example>",
            created_at=T0 + timedelta(hours=1),
            sent_at=T0 + timedelta(hours=1),
            clicked_at=T0 + timedelta(hours=4),
        )
    )
    db.add(
        CheckoutSession(
            merchant_id=merchant,
            session_id=case.recovered_session_id,
            livemode=False,
            created_at=T0 + timedelta(hours=4),
            status="complete",
            payment_status="paid",
            amount_total=4200,
            currency="usd",
            recovered_from=case.session.session_id,
            payment_intent="pi_3Example",
            completed_at=T0 + timedelta(hours=5),
            state_at=T0 + timedelta(hours=5),
        )
    )
    db.commit()
    return case


def test_payment_page_shows_badge_story_and_stripe_link(db, client, merchant, app, monkeypatch):
    case = _case_recovered_by_email_one(db, merchant)
    html = client.get(f"/payments/{case.id}").get_data(as_text=True)
    assert 'class="badge">Recovered</span>' in html and "$42.00" in html
    assert "after email 1" in html and case.session.session_id in html
    assert "https://dashboard.stripe.com/test/payments/pi_3Example" in html
    assert "4 hours 59 minutes after the cart expired" in html  # T0+1 min to T0+5 h
    # Against the offline sandbox there is no Dashboard to send the merchant to.
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:12111")
    html = client.get(f"/payments/{case.id}").get_data(as_text=True)
    assert "dashboard.stripe.com" not in html and "the offline sandbox has no Dashboard" in html


def test_other_merchants_ids_are_404_and_their_rows_never_listed(db, client, merchant, app):
    other = make_owner(email="owner@other.example").merchant_id
    theirs = _case(db, other, 1, paid_at=T0, email="secret@other.example")
    mine_unpaid = _case(db, merchant, 2)
    db.commit()
    assert client.get(f"/payments/{theirs.id}").status_code == 404
    assert client.get(f"/carts/{theirs.id}").status_code == 404
    assert client.get(f"/payments/{mine_unpaid.id}").status_code == 404  # not a payment
    for page in (
        "/payments/",
        f"/payments/?before={theirs.id}",
        "/carts/",
        "/carts/?show=stopped",
    ):
        assert "secret@other.example" not in client.get(page).get_data(as_text=True)


def test_carts_list_pages_and_filters(db, client, merchant):
    cases = [_case(db, merchant, n) for n in range(60)]
    cases[5].reason, cases[5].status = "no_consent", "skipped"
    cases[7].emailed_at = T0
    # Emailed, then its follow-up stopped by an unsubscribe: emailed, not "not emailed".
    cases[8].emailed_at, cases[8].reason, cases[8].status = T0, "unsubscribed", "skipped"
    db.commit()
    first = client.get("/carts/").get_data(as_text=True)
    assert _ids(first, "carts")[:2] == [cases[59].id, cases[58].id]
    second = client.get(_next(first)).get_data(as_text=True)
    assert len(_ids(first, "carts")) == 50 and len(_ids(second, "carts")) == 10
    assert not set(_ids(first, "carts")) & set(_ids(second, "carts")) and _next(second) is None
    assert _ids(client.get("/carts/?reason=no_consent").get_data(as_text=True), "carts") == [
        cases[5].id
    ]
    assert _ids(client.get("/carts/?show=emailed").get_data(as_text=True), "carts") == [
        cases[8].id,
        cases[7].id,
    ]
    assert _ids(client.get("/carts/?show=stopped").text, "carts") == [cases[5].id]
    assert 'id="reason"' in first and 'id="reason"' in client.get("/carts/?show=stopped").text
    assert 'id="reason"' not in client.get("/carts/?show=emailed").get_data(as_text=True)
    from portal.models import RecoveryCase

    clicked = db.get(RecoveryCase, cases[9].id)  # the pages' requests ended the earlier session
    clicked.clicked_at, clicked.holdout = T0, False
    db.commit()
    assert _ids(client.get("/carts/?show=clicked").get_data(as_text=True), "carts") == [
        cases[9].id
    ]
    assert _ids(client.get("/carts/?show=eligible").get_data(as_text=True), "carts") == [
        cases[9].id
    ]
    assert client.get("/carts/?show=<script>&before=abc").status_code == 200
    for before in ("-1", "0", "2147483648", "99999999999999999999"):  # out of any id's range
        for page in ("/carts/", "/payments/"):
            assert client.get(f"{page}?before={before}").status_code == 200


def test_the_timeline_names_the_gate_and_what_stripe_said(db, client, merchant):
    from portal.models import SendingSettings
    from portal.services import trace

    db.add(SendingSettings(merchant_id=merchant, timezone="America/New_York"))
    case = _case(db, merchant, 1)
    at = T0 + timedelta(minutes=2)
    trace.note(case, trace.DECIDED, at, action="wait", step=0, at=T0 + timedelta(hours=2))
    trace.note(case, trace.RECHECK_FAILED, at + timedelta(hours=2), retry_at=at)
    trace.note(
        case, trace.RECHECK_FAILED, at + timedelta(hours=2), retry_at=at, why="permission_missing"
    )
    trace.note(case, trace.RECHECKED, at + timedelta(hours=3), later="complete", step=0)
    trace.note(case, trace.DECIDED, at + timedelta(hours=3), action="skip", reason="later_session")
    db.commit()
    html = client.get(f"/carts/{case.id}").get_data(as_text=True)
    story = [
        "Checkout started",
        "Checkout expired unpaid",
        "Email 1 scheduled",
        "Stripe did not answer the re-check",
        "Stripe refused the re-check: your key lacks a permission",
        "Give the key the permissions listed on the Connect Stripe page.",
        "the shopper paid in a newer checkout",
        "Stopped: the shopper started a later checkout",
    ]
    places = [html.index(line) for line in story]
    assert places == sorted(places)
    assert "Due Nov 1, 2026, 09:00 EST" in html  # 14:00 UTC in the merchant's zone
    assert "(after the delay)" in html  # no quiet hours are set: none are mentioned
    assert "Times in Eastern Time (New York)." in html


def test_every_stopping_rule_reads_as_the_end_of_one_sentence():
    from portal.services.rules import Reason
    from portal.services.timeline import stopped_words

    for reason in Reason:
        words = stopped_words(reason)
        assert words and ":" not in words, reason
        assert words[0].islower() or words.startswith("Stripe"), words
    assert stopped_words(Reason.NOT_CONNECTED) == "Stripe was not connected"
