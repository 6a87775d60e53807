"""The dashboard: every figure equals a plain count over the rows, whatever order, repetition
or delay the events came with; days in the merchant's time zone; currencies never summed; the
holdout comparison's arithmetic; another merchant's rows never counted."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import stripe_events as se
from factories import PASSWORD, make_connected
from portal import db as portal_db
from portal.db import utcnow
from portal.models import EmailSend, RecoveryCase, SendingSettings
from portal.services import dashboard, events, shopper
from portal.services.dashboard_lift import Verdict, lift, newcombe, wilson

ACCT = "acct_1DashboardMerchant01"
OTHER = "acct_1DashboardMerchant02"
ZONE = "America/New_York"


def deliver(client, *sequence) -> None:
    for event in sequence:
        assert se.post(client, event).status_code == 200
    portal_db.session.commit()  # end any read: on SQLite it would hide the new events
    events.drain()


def merchant(db, account=ACCT, email="dash@example.com", zone=ZONE, holdout=0) -> int:
    owner = make_connected(account, email=email)
    db.add(SendingSettings(merchant_id=owner.merchant_id, timezone=zone, holdout_percent=holdout))
    db.commit()
    return owner.merchant_id


def ts(moment: datetime) -> int:
    return int(moment.timestamp())


def cases_of(db, merchant_id: int) -> dict[str, RecoveryCase]:
    db.commit()  # a fresh read: on SQLite an open transaction would not see later webhooks
    rows = db.scalars(select(RecoveryCase).where(RecoveryCase.merchant_id == merchant_id))
    return {case.session.session_id: case for case in rows}


def add_send(db, case: RecoveryCase, status: str, at: datetime, clicked: bool = False) -> None:
    db.add(
        EmailSend(
            merchant_id=case.merchant_id,
            case_id=case.id,
            step=0,
            status=status,
            to_address="shopper@example.com",
            message_id=f"<{case.id}@test>",
            attempts=1,
            created_at=at,
            sent_at=at if status == "sent" else None,
            clicked_at=at + timedelta(minutes=5) if clicked else None,
        )
    )
    if status == "sent":
        case.emailed_at = at
    if clicked:
        case.clicked_at = at + timedelta(minutes=5)


def seed_story(client, db, merchant_id: int, account: str, now: datetime, tag: str = "") -> None:
    """Carts in both periods through the real webhook pipeline: recoveries in two currencies,
    a late expiry, repeated events, delayed payments that succeed and fail; then the decisions,
    emails and unsubscribes the engine and the shopper would have left."""
    day = lambda n, h=0: now - timedelta(days=n, hours=h)  # noqa: E731
    sid = lambda name: f"cs_live_{tag}{name}"  # noqa: E731
    expiries = {sid(f"A{n}"): day(n, 1) for n in range(12)} | {
        sid(f"P{n}"): day(31 + n, 1) for n in range(5)
    }
    recovery = se.completed(sid("R3"), account, recovered_from=sid("A3"), created=ts(day(2)))
    deliver(
        client,
        recovery,  # the completion of A3's recovery arrives before A3's expiry
        *(se.expired(s, account, created=ts(at)) for s, at in expiries.items()),
        se.completed(sid("R1"), account, recovered_from=sid("A1"), created=ts(day(0))),
        se.completed(
            sid("R2"),
            account,
            recovered_from=sid("A2"),
            amount=2500,
            currency="eur",
            created=ts(day(1)),
        ),  # fmt: skip
        se.completed(sid("RP"), account, recovered_from=sid("P1"), created=ts(day(30))),
        se.completed(
            sid("R4"),
            account,
            recovered_from=sid("A4"),
            payment_status="unpaid",
            created=ts(day(3)),
        ),  # fmt: skip
        se.completed(
            sid("R5"),
            account,
            recovered_from=sid("A5"),
            payment_status="unpaid",
            created=ts(day(3)),
        ),  # fmt: skip
    )
    deliver(
        client,
        recovery,  # the same event again
        se.expired(sid("A0"), account, created=ts(expiries[sid("A0")])),  # a repeat, new id
        se.async_result(False, sid("R4"), account, recovered_from=sid("A4")),
        se.async_result(True, sid("R5"), account, recovered_from=sid("A5")),
    )
    cases = cases_of(db, merchant_id)
    for n in range(8):
        cases[sid(f"A{n}")].holdout = n >= 6  # eligible: A0-A7; held out: A6, A7
    for name, status, clicked in (("A1", "sent", True), ("A2", "sent", False), ("A3", "sent", True),
                                  ("A4", "bounced", False), ("P0", "sent", True)):  # fmt: skip
        add_send(db, cases[sid(name)], status, cases[sid(name)].expired_at + timedelta(hours=1), clicked)  # fmt: skip
    db.commit()
    for n, days_ago in enumerate((1, 2, 40)):
        shopper.unsubscribe(merchant_id, f"u{n}{tag}@example.com", "one_click", day(days_ago))
    shopper.unsubscribe(merchant_id, f"csv{tag}@example.com", "csv", day(1))  # not from an email
    db.commit()


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


def test_the_page_shows_the_figures_in_words(client, db, login):
    merchant_id = merchant(db, holdout=10)
    seed_story(client, db, merchant_id, ACCT, utcnow())
    login(client, "dash@example.com", PASSWORD)
    html = client.get("/dashboard/").get_data(as_text=True)
    words = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", words))
    assert "$144.00" in text and "€25.00" in text  # each currency on its own, never a sum
    assert "$169.00" not in text and "169" not in text
    assert "Up 200 % on the previous 30 days ($48.00)" in text  # usd: 144 against 48
    assert "Up from none in the previous 30 days" in text  # eur: none before
    assert "33.3 %" in text  # recovery rate: 4 of 12
    assert (
        'href="/payments/?days=30"' in html and 'href="/carts/?show=recovered&amp;days=30"' in html
    )
    assert "What the emails add" in text and "Too few carts yet to tell" in text
    assert 'role="img"' in html and "<desc " in html and "<script" not in html.split("<main")[1]
    assert "None" not in text and "held_out" not in text


def test_a_new_merchant_reads_what_will_appear(client, db, login):
    merchant(db)
    login(client, "dash@example.com", PASSWORD)
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "Nothing to show yet" in html and 'href="/"' in html and "<svg" not in html
    assert "What the emails add" not in html  # no holdout, no held-out carts


@pytest.mark.parametrize(("given", "days"), [("7", 7), ("90", 90), ("abc", 30), ("-1", 30)])
def test_the_period_comes_from_the_form(client, db, login, given, days):
    merchant_id = merchant(db)
    deliver(client, se.expired("cs_live_one", ACCT, created=ts(utcnow())))
    login(client, "dash@example.com", PASSWORD)
    html = client.get(f"/dashboard/?days={given}").get_data(as_text=True)
    assert f'<option value="{days}" selected>' in html
    assert dashboard.build(merchant_id, days, utcnow()).current.expired == 1


def test_the_dashboard_needs_a_login(client, db):
    assert client.get("/dashboard/").status_code in (302, 401)


def test_wilson_and_newcombe_give_the_published_intervals():
    """Newcombe (1998), Statistics in Medicine 17: 873-890, table II, method 10."""
    for (x1, n1, x2, n2), (low, high) in {
        (56, 70, 48, 80): (0.0524, 0.3339),
        (9, 10, 3, 10): (0.1705, 0.8090),
        (6, 7, 2, 7): (0.0582, 0.8062),
        (5, 56, 0, 29): (-0.0381, 0.1926),
        (0, 10, 0, 20): (-0.1611, 0.2775),
    }.items():
        assert tuple(round(v, 4) for v in newcombe(x1, n1, x2, n2)) == (low, high)
    assert tuple(round(v, 4) for v in wilson(81, 263)) == (0.2553, 0.3662)


def test_the_lift_says_what_the_numbers_allow():
    helps = lift(60, 400, 20, 400)  # 15 % against 5 %
    assert round(helps.difference, 4) == 0.1 and helps.verdict == Verdict.HELPS
    assert helps.low > 0 and helps.high < 0.2
    assert lift(21, 400, 20, 400).verdict == Verdict.UNCLEAR  # the interval includes zero
    assert lift(3, 20, 0, 5).verdict == Verdict.TOO_SMALL  # too few held out
    assert lift(0, 100, 0, 100).verdict == Verdict.TOO_SMALL  # nobody bought
    assert lift(5, 10, 0, 0).difference is None  # no held-out cart yet
    assert lift(20, 400, 60, 400).verdict == Verdict.HURTS


def test_the_lift_counts_purchases_of_both_groups(client, db):
    merchant_id = merchant(db, holdout=50)
    now = utcnow()
    seed_story(client, db, merchant_id, ACCT, now)
    cases = cases_of(db, merchant_id)
    cases["cs_live_A6"].purchased_at = now - timedelta(hours=1)  # a held-out shopper bought
    db.commit()
    found = dashboard.build(merchant_id, 30, now).lift
    period = dashboard.period_for(30, ZONE, now)
    mine = [c for c in cases_of(db, merchant_id).values() if c.expired_at >= period.start]
    emailed = [c for c in mine if c.holdout is False]
    held = [c for c in mine if c.holdout is True]
    assert (len(emailed), len(held)) == (6, 2)  # A0-A5 emailed, A6 and A7 held out
    bought = [sum(c.purchased_at is not None for c in group) for group in (emailed, held)]
    assert bought[1] >= 1
    assert (found.emailed_bought, found.emailed, found.held_out_bought, found.held_out) == (
        bought[0],
        6,
        bought[1],
        2,
    )
    assert found.difference == pytest.approx(bought[0] / 6 - bought[1] / 2)
    assert found.verdict == Verdict.TOO_SMALL


def test_a_merchant_set_up_but_without_carts_is_not_told_to_finish_setting_up(
    client, db, login, monkeypatch
):
    from dataclasses import replace

    from portal.services import onboarding

    merchant(db)
    login(client, "dash@example.com", PASSWORD)
    html = client.get("/dashboard/").get_data(as_text=True)
    assert (
        "Finish setting up</a>: accept the cart-recovery terms, add your postal address and "
        "turn on recovery emails." in html
    )
    real = onboarding.checklist
    monkeypatch.setattr(
        onboarding, "checklist", lambda m: [replace(s, done=True) for s in real(m)]
    )
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "Finish setting up" not in html and "Your setup is complete" in html


def test_home_says_what_happens_next_once_set_up_and_before_any_cart(
    app, client, db, login, monkeypatch
):
    from dataclasses import replace

    from portal.services import onboarding

    merchant(db)
    login(client, "dash@example.com", PASSWORD)
    assert "You are set up" not in client.get("/").get_data(as_text=True)
    real = onboarding.checklist
    monkeypatch.setattr(
        onboarding, "checklist", lambda m: [replace(s, done=True) for s in real(m)]
    )
    home = client.get("/").get_data(as_text=True)
    assert "You are set up" in home and "Nothing has expired yet." in home
    assert "/shop/" not in home and 'on the <a href="/carts/">Carts</a> page' in home
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:12111")
    home = client.get("/").get_data(as_text=True)  # the offline sandbox: try it in its shop
    assert f'href="http://127.0.0.1:12111/shop/{ACCT}">Try it' in home


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
