"""The holdout comparison's arithmetic: Wilson and Newcombe intervals and the lift in words."""

from __future__ import annotations

from datetime import timedelta

import pytest

from portal.db import utcnow
from portal.services import dashboard
from portal.services.dashboard_lift import Verdict, lift, newcombe, wilson
from dashboard_kit import ACCT, ZONE, cases_of, merchant, seed_story


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
