"""Dashboard figures equal plain counts over the rows, per period, local day and merchant."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import stripe_events as se
from factories import PASSWORD
from portal.db import utcnow
from portal.models import EmailSend, RecoveryCase
from portal.services import dashboard
from dashboard_kit import ACCT, deliver, merchant, seed_story, ts


OTHER = "acct_1DashboardMerchant02"


def expected(db, merchant_id: int, period: dashboard.Period) -> dict:
    """The figures, counted by hand over the rows."""
    db.expire_all()
    cases = db.scalars(select(RecoveryCase).where(RecoveryCase.merchant_id == merchant_id)).all()
    sends = db.scalars(select(EmailSend).where(EmailSend.merchant_id == merchant_id)).all()

    def cohort(start, end):
        mine = [c for c in cases if start <= c.expired_at < end]
        revenue = {}
        for c in mine:
            if c.recovered_at is not None:
                revenue[c.recovered_currency] = revenue.get(c.recovered_currency, 0)
                revenue[c.recovered_currency] += c.recovered_amount
        return {
            "expired": len(mine),
            "eligible": sum(c.holdout is not None for c in mine),
            "emailed": sum(c.emailed_at is not None for c in mine),
            "clicked": sum(c.clicked_at is not None for c in mine),
            "recovered": sum(c.recovered_at is not None for c in mine),
            "held_out": sum(c.holdout is True for c in mine),
            "revenue": revenue,
        }

    def mail(start, end):
        mine = [s for s in sends if start <= s.created_at < end]
        return (
            sum(s.status == "sent" for s in mine),
            sum(s.clicked_at is not None for s in mine),
            sum(s.status == "bounced" for s in mine),
        )

    p = period
    return {
        "current": cohort(p.start, p.end),
        "previous": cohort(p.previous_start, p.start),
        "mail": mail(p.start, p.end),
        "previous_mail": mail(p.previous_start, p.start),
    }


def observed(board: dashboard.Dashboard) -> dict:
    def cohort(c):
        names = ("expired", "eligible", "emailed", "clicked", "recovered", "held_out")
        return {name: getattr(c, name) for name in names} | {"revenue": c.revenue}

    def mail(m):
        return (m.sent, m.clicks, m.bounces)

    return {
        "current": cohort(board.current),
        "previous": cohort(board.previous),
        "mail": mail(board.mail),
        "previous_mail": mail(board.previous_mail),
    }


def test_figures_equal_a_count_over_the_rows(client, db):
    merchant_id = merchant(db)
    now = utcnow()
    seed_story(client, db, merchant_id, ACCT, now)
    board = dashboard.build(merchant_id, 30, now)
    assert observed(board) == expected(db, merchant_id, board.period)
    # What the story must have produced, so that the counts above are not vacuous:
    assert board.current.expired == 12 and board.previous.expired == 5  # A0 once
    assert board.current.recovered == 4  # A1, A2, A3 (late expiry), A5; not A4 (failed)
    assert board.current.revenue == {"usd": 3 * 4800, "eur": 2500}
    assert board.previous.revenue == {"usd": 4800}
    assert (board.mail.sent, board.mail.clicks, board.mail.bounces) == (3, 2, 1)
    assert (board.mail.unsubscribes, board.previous_mail.unsubscribes) == (2, 1)
    assert sum(c.expired for _, c in board.daily) == board.current.expired
    assert sum(c.recovered for _, c in board.daily) == board.current.recovered


@pytest.mark.parametrize("days", [7, 90])
def test_other_periods_also_equal_the_rows(client, db, days):
    merchant_id = merchant(db)
    now = utcnow()
    seed_story(client, db, merchant_id, ACCT, now)
    board = dashboard.build(merchant_id, days, now)
    assert board.period.days == len(board.daily) == days
    assert observed(board) == expected(db, merchant_id, board.period)


def test_another_merchants_rows_are_never_counted(client, db):
    mine = merchant(db)
    other = merchant(db, OTHER, "other@example.com", zone="UTC", holdout=20)
    now = utcnow()
    seed_story(client, db, mine, ACCT, now)
    alone = observed(dashboard.build(mine, 30, now))
    seed_story(client, db, other, OTHER, now, tag="o")
    assert observed(dashboard.build(mine, 30, now)) == alone
    assert observed(dashboard.build(other, 30, now))["current"]["expired"] == 12


def test_days_are_the_merchants_local_days(client, db):
    """New York midnight is 05:00 UTC in December: a cart at 04:59 UTC belongs to the day
    before, and at the period's first midnight to the period before."""
    merchant_id = merchant(db)
    now = datetime(2026, 12, 10, 15, 0, tzinfo=timezone.utc)  # 10:00 on Dec 10 in New York
    times = {
        "cs_live_before": datetime(2026, 12, 4, 4, 59, tzinfo=timezone.utc),  # Dec 3, 23:59
        "cs_live_first": datetime(2026, 12, 4, 5, 0, tzinfo=timezone.utc),  # Dec 4, 00:00
        "cs_live_late": datetime(2026, 12, 9, 4, 30, tzinfo=timezone.utc),  # Dec 8, 23:30
        "cs_live_today": datetime(2026, 12, 10, 14, 0, tzinfo=timezone.utc),
        "cs_live_future": datetime(2026, 12, 11, 5, 0, tzinfo=timezone.utc),  # tomorrow
    }
    deliver(client, *(se.expired(s, ACCT, created=ts(at)) for s, at in times.items()))
    board = dashboard.build(merchant_id, 7, now)
    assert (str(board.period.first), str(board.period.last)) == ("2026-12-04", "2026-12-10")
    per_day = {str(day): c.expired for day, c in board.daily if c.expired}
    assert per_day == {"2026-12-04": 1, "2026-12-08": 1, "2026-12-10": 1}
    assert (board.current.expired, board.previous.expired) == (3, 1)
    in_utc = dashboard.period_for(7, "UTC", now)
    assert in_utc.start == datetime(2026, 12, 4, tzinfo=timezone.utc)


def test_a_figures_link_lists_the_carts_it_counts(client, db, login):
    merchant_id = merchant(db)
    now = utcnow()
    seed_story(client, db, merchant_id, ACCT, now)
    yesterday = ts(now - timedelta(days=1))
    deliver(client, se.expired("cs_test_T1", ACCT, created=yesterday, livemode=False))
    board = dashboard.build(merchant_id, 30, now)
    login(client, "dash@example.com", PASSWORD)
    html = client.get("/dashboard/?days=30").get_data(as_text=True)
    assert 'href="/carts/?days=30"' in html and "/subscriptions?status=unsubscribed" not in html
    listed = client.get("/carts/?days=30").get_data(as_text=True)
    assert listed.count('data-label="Expired"') == board.current.expired == 12
    assert "the dashboard’s last 30 days" in listed and 'href="/carts/"' in listed
    every = client.get("/carts/").get_data(as_text=True)  # both periods, and the test cart
    assert every.count('data-label="Expired"') == 12 + 5 + 1
    recovered = client.get("/carts/?show=recovered&days=30").get_data(as_text=True)
    assert recovered.count('data-label="Expired"') == board.current.recovered
