"""The recovery rules as a table: every one of Stripe's rules and every reason of the portal's own."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from portal.services.rules import (
    REASONS,
    Decision,
    Facts,
    Policy,
    Step,
    decide,
    in_holdout,
    outside_quiet_hours,
)

T = datetime(2026, 11, 20, 12, 0, tzinfo=timezone.utc)  # the session expired at noon UTC
H = timedelta(hours=1)
POLICY = Policy(connected=True, terms_accepted=True, enabled=True, steps=(Step(H),))
FACTS = Facts(
    session_id="cs_live_A",
    livemode=True,
    email="sam@example.com",
    consent="opt_in",
    recovery_url="https://buy.stripe.com/r/live_x",
    recovery_expires_at=T + timedelta(days=30),
    expired_at=T,
)
NOW = T + 2 * H


def case(facts=None, policy=None, now=NOW):
    return decide(replace(FACTS, **(facts or {})), replace(POLICY, **(policy or {})), now)


TABLE = [
    # (name, facts, policy, now, expected)
    ("eligible and due: send", {}, {}, NOW, Decision("send", at=NOW, step=0)),
    ("eligible, delay not over: wait", {}, {}, T + 0.5 * H, Decision("wait", at=T + H, step=0)),
    (
        "rule 1: test mode is never emailed",
        {"livemode": False},
        {},
        NOW,
        Decision("skip", "test_mode"),
    ),
    (
        "rule 1: test mode to the team when asked",
        {"livemode": False},
        {"test_mode": "team"},
        NOW,
        Decision("send", at=NOW, step=0, to_team=True),
    ),
    ("rule 2: no consent", {"consent": None}, {}, NOW, Decision("skip", "no_consent")),
    ("rule 2: opted out", {"consent": "opt_out"}, {}, NOW, Decision("skip", "no_consent")),
    ("rule 2: no email", {"email": None}, {}, NOW, Decision("skip", "no_email")),
    ("rule 2: incomplete email", {"email": "sam@"}, {}, NOW, Decision("skip", "no_email")),
    ("rule 2: not an email", {"email": "sam example.com"}, {}, NOW, Decision("skip", "no_email")),
    (
        "rule 3: no recovery URL",
        {"recovery_url": None},
        {},
        NOW,
        Decision("skip", "no_recovery_url"),
    ),
    (
        "Stripe had no such session at send time",
        {"known_to_stripe": False},
        {},
        NOW,
        Decision("skip", "unknown_to_stripe"),
    ),
    (
        "rule 3: recovery URL expired",
        {"recovery_expires_at": NOW - H},
        {},
        NOW,
        Decision("skip", "recovery_url_expired", step=0),
    ),
    (
        "rule 3: URL would expire before the delay",
        {"recovery_expires_at": T + 0.5 * H},
        {},
        T + 0.2 * H,
        Decision("skip", "recovery_url_expired", step=0),
    ),
    (
        "rule 4: A then B, A sees a later expired B",
        {"later_session": "expired"},
        {},
        NOW,
        Decision("skip", "later_session"),
    ),
    (
        "rule 4: A then an open B",
        {"later_session": "open"},
        {},
        NOW,
        Decision("skip", "later_session"),
    ),
    (
        "rule 4: B completed, nobody gets an email",
        {"later_session": "complete"},
        {},
        NOW,
        Decision("skip", "completed_elsewhere"),
    ),
    (
        "rule 4: B itself has no later session",
        {"session_id": "cs_live_B"},
        {},
        NOW,
        Decision("send", at=NOW, step=0),
    ),
    (
        "rule 5: not connected",
        {},
        {"connected": False},
        NOW,
        Decision("skip", "not_connected"),
    ),
    (
        "rule 5: terms not accepted",
        {},
        {"terms_accepted": False},
        NOW,
        Decision("skip", "terms_not_accepted"),
    ),
    ("rule 5: emails off", {}, {"enabled": False}, NOW, Decision("skip", "merchant_disabled")),
    ("rule 6: unsubscribed", {"unsubscribed": True}, {}, NOW, Decision("skip", "unsubscribed")),
    ("rule 6: suppressed", {"suppressed": True}, {}, NOW, Decision("skip", "suppressed")),
    (
        "rule 7: already sent, one step",
        {"steps_done": frozenset({0})},
        {},
        NOW,
        Decision("done", "sequence_finished"),
    ),
    (
        "recovered: the sequence stops",
        {"recovered": True, "steps_done": frozenset({0})},
        {"steps": (Step(H), Step(24 * H))},
        NOW,
        Decision("done", "recovered"),
    ),
    (
        "follow-up waits for its delay",
        {"steps_done": frozenset({0})},
        {"steps": (Step(H), Step(24 * H))},
        NOW,
        Decision("wait", at=T + 24 * H, step=1),
    ),
    (
        "follow-up due",
        {"steps_done": frozenset({0})},
        {"steps": (Step(H), Step(24 * H))},
        T + 25 * H,
        Decision("send", at=T + 25 * H, step=1),
    ),
    (
        "follow-up never after the URL expires",
        {"steps_done": frozenset({0}), "recovery_expires_at": T + 20 * H},
        {"steps": (Step(H), Step(24 * H))},
        NOW,
        Decision("done", "recovery_url_expired", step=1),
    ),
    (
        "frequency cap: another cart emailed 3 h ago",
        {"last_other_email_at": NOW - 3 * H},
        {},
        NOW,
        Decision("skip", "frequency_cap", step=0),
    ),
    (
        "frequency cap over",
        {"last_other_email_at": NOW - 25 * H},
        {},
        NOW,
        Decision("send", at=NOW, step=0),
    ),
    (
        "frequency cap defers a follow-up",
        {"steps_done": frozenset({0}), "last_other_email_at": T + 20 * H},
        {"steps": (Step(H), Step(24 * H))},
        T + 25 * H,
        Decision("wait", at=T + 44 * H, step=1),
    ),
    (
        "quiet hours defer, never drop",
        {},
        {"quiet_hours": (12, 18)},
        T + 0.5 * H,
        Decision("wait", at=T + 6 * H, step=0),
    ),
    # due 13:00 UTC = 22:00 in Tokyo, inside 22-07 there: deferred to 07:00 Tokyo = 22:00 UTC
    (
        "quiet hours in the merchant's time zone",
        {},
        {"quiet_hours": (22, 7), "timezone": "Asia/Tokyo"},
        T + 0.5 * H,
        Decision("wait", at=T + 10 * H, step=0),
    ),
    # a sequence that began 3 days late keeps its spacing: email 2 a day after email 1
    (
        "a late sequence keeps its spacing",
        {"steps_done": frozenset({0}), "last_own_email_at": T + 72 * H},
        {"steps": (Step(H), Step(24 * H))},
        T + 73 * H,
        Decision("wait", at=T + 95 * H, step=1),
    ),
    # the same in the shopper's zone, when the merchant (in London) chose it
    (
        "quiet hours in the shopper's time zone",
        {"shopper_timezone": "Asia/Tokyo"},
        {"quiet_hours": (22, 7), "timezone": "Europe/London", "quiet_zone": "shopper"},
        T + 0.5 * H,
        Decision("wait", at=T + 10 * H, step=0),
    ),
    # a shopper whose country keeps several clocks: the merchant's (13:00 in London is no quiet)
    (
        "quiet hours in the merchant's zone when the shopper's is not known",
        {"shopper_timezone": None},
        {"quiet_hours": (22, 7), "timezone": "Europe/London", "quiet_zone": "shopper"},
        T + 0.5 * H,
        Decision("wait", at=T + H, step=0),
    ),
    (
        "the shopper's zone is not used unless chosen",
        {"shopper_timezone": "Asia/Tokyo"},
        {"quiet_hours": (22, 7), "timezone": "Europe/London"},
        T + 0.5 * H,
        Decision("wait", at=T + H, step=0),
    ),
]


@pytest.mark.parametrize(
    "name, facts, policy, now, expected", TABLE, ids=[row[0] for row in TABLE]
)
def test_rules_table(name, facts, policy, now, expected):
    assert case(facts, policy, now) == expected


def test_the_table_covers_every_reason_but_holdout():
    covered = {row[4].reason for row in TABLE if row[4].reason}
    assert covered | {"holdout"} == set(REASONS)


def test_holdout_is_deterministic_and_near_its_share():
    ids = [f"cs_live_{i}" for i in range(4000)]
    held = [i for i in ids if in_holdout(i, 0.2)]
    assert 0.17 < len(held) / len(ids) < 0.23
    assert held == [i for i in ids if in_holdout(i, 0.2)]
    assert not any(in_holdout(i, 0.0) for i in ids)
    assert case({"session_id": held[0]}, {"holdout_share": 0.2}) == Decision("skip", "holdout")


def test_quiet_hours_across_midnight():
    policy = replace(POLICY, quiet_hours=(22, 7), timezone="Europe/Paris")  # UTC+1 in November
    late = datetime(2026, 11, 20, 22, 30, tzinfo=timezone.utc)  # 23:30 in Paris
    assert outside_quiet_hours(late, policy) == datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc)
    early = datetime(2026, 11, 21, 3, 0, tzinfo=timezone.utc)  # 04:00 in Paris
    assert outside_quiet_hours(early, policy) == datetime(2026, 11, 21, 6, 0, tzinfo=timezone.utc)
    assert outside_quiet_hours(T, policy) == T


def test_a_country_keeps_one_clock_or_is_not_guessed():
    from portal.services.zone_table import country_zone

    assert country_zone("de") == "Europe/Berlin"  # Busingen is listed too, on the same clock
    assert (country_zone("GB"), country_zone("JP")) == ("Europe/London", "Asia/Tokyo")
    assert country_zone("US") is None and country_zone("ES") is None  # several clocks
    assert country_zone("XX") is None and country_zone(None) is None
