"""Dry-run counts: the rules replayed over past carts, resumable after a crash, read-only."""

from __future__ import annotations

import hashlib

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from factories import PASSWORD
from portal import jobs
from portal.models import (
    CheckoutSession,
    DryRun,
    DryRunStatus,
    EmailSend,
    OutboxMessage,
    RecoveryCase,
)
from portal.services import dry_run, replay, settings
from smtp_sink import SmtpSink
from dry_run_kit import NOW, T0, cart, run, seed


def test_counts_match_the_carts_seeded_under_the_default_settings(db, owner):
    expected = seed(db, owner.merchant_id)
    done = run(owner.merchant)
    assert done.results["would"] == expected
    assert done.total == done.done == 15
    assert done.results["followups"] == 0
    assert done.results["actual"] == {"emailed": 2, "merchant_disabled": 13}
    assert done.results["followups_actual"] == 1
    assert len(done.results["examples"]["emailed"]) == dry_run.EXAMPLES


def test_follow_ups_no_cap_and_holdout_change_the_counts(db, owner):
    expected = seed(db, owner.merchant_id)
    two_steps = run(owner.merchant, steps=(60, 24 * 60))
    assert two_steps.results["would"]["emailed"] == 8
    # Each emailed cart gets its follow-up but the first "twice@" one: the shopper's later
    # checkout stops it.
    assert two_steps.results["followups"] == 7
    no_cap = run(owner.merchant, frequency_cap_hours=0)
    assert (
        no_cap.results["would"]["emailed"] == 9 and "frequency_cap" not in no_cap.results["would"]
    )
    held = run(owner.merchant, holdout_percent=50)
    assert held.results["would"] == _held_out(db, owner.merchant_id, expected)


def _held_out(db, merchant_id, expected: dict) -> dict:
    """The counts with half the eligible carts held out, drawn independently of the rules: the
    holdout draw comes before the cap, and a held-out first "twice@" cart frees the second."""
    rows = db.execute(
        select(CheckoutSession.session_id, CheckoutSession.email)
        .where(CheckoutSession.merchant_id == merchant_id)
        .order_by(CheckoutSession.id)
    ).all()
    held = {sid for sid, _ in rows if _bucket(sid) < 0.5}
    twice = [sid for sid, email in rows if email == "twice@example.com"]
    again = [sid for sid, email in rows if email == "again@example.com"]
    drawn = [sid for sid, email in rows if email.startswith("shopper")] + [again[1], twice[0]]
    counts = {**expected, "emailed": sum(sid not in held for sid in drawn), "frequency_cap": 0}
    # The first "again@" cart is drawn at its expiry, before the later checkout starts.
    counts["holdout"] = sum(sid in held for sid in [*drawn, twice[1], again[0]])
    counts["later_session"] = int(again[0] not in held)
    if twice[1] not in held:
        key = "emailed" if twice[0] in held else "frequency_cap"
        counts[key] += 1
    return {kind: n for kind, n in counts.items() if n}


def _bucket(session_id: str) -> float:
    return int.from_bytes(hashlib.sha256(session_id.encode()).digest()[:4], "big") / 2**32


def test_the_real_state_is_used_unless_emails_are_treated_as_on(db, owner):
    seed(db, owner.merchant_id)
    real = run(owner.merchant, as_enabled=False)
    assert real.results["would"] == {"not_connected": 14, "test_mode": 1}


def test_a_crash_mid_run_resumes_without_counting_twice(db, owner, monkeypatch):
    seed(db, owner.merchant_id)
    monkeypatch.setattr(dry_run, "BATCH", 4)
    real, calls = replay.outcomes, []

    def crash_on_third(*args):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("worker killed")
        return real(*args)

    monkeypatch.setattr(replay, "outcomes", crash_on_third)
    started = dry_run.start(owner.merchant, None, dry_run.Candidate(), T0.date(), NOW.date())
    db.commit()
    with pytest.raises(RuntimeError):
        jobs.run_dry_run(started.id)
    db.rollback()
    halfway = db.get(DryRun, started.id)
    assert (halfway.status, halfway.done) == (DryRunStatus.RUNNING, 8)
    assert sum(halfway.results["would"].values()) == 8
    assert jobs.run_dry_run(started.id) == DryRunStatus.DONE
    resumed = db.get(DryRun, started.id)
    assert resumed.done == 15 and sum(resumed.results["would"].values()) == 15
    before = dict(resumed.results)
    assert jobs.run_dry_run(started.id) == DryRunStatus.DONE  # a second run changes nothing
    db.refresh(resumed)
    assert resumed.results == before and resumed.done == 15
    monkeypatch.setattr(replay, "outcomes", real)
    once = run(owner.merchant, first_day=T0.date())
    assert once.results["would"] == resumed.results["would"]


def test_a_dry_run_sends_nothing_and_changes_no_case(app, db, owner, monkeypatch):
    seed(db, owner.merchant_id)
    cases_before = _cases(db, owner.merchant_id)
    counts = (db.scalar(select(func.count(EmailSend.id))), _outbox(db))
    with SmtpSink() as sink:
        monkeypatch.setitem(app.config, "SMTP_URL", sink.url())
        run(owner.merchant, steps=(0, 60, 120), frequency_cap_hours=0)
        assert sink.messages == []
    assert (db.scalar(select(func.count(EmailSend.id))), _outbox(db)) == counts
    assert _cases(db, owner.merchant_id) == cases_before


def _outbox(db) -> int:
    return db.scalar(select(func.count(OutboxMessage.id)))


def _cases(db, merchant_id) -> list[tuple]:
    db.expire_all()
    return [
        (c.id, c.status, c.reason, c.next_action_at, c.emailed_at, c.holdout, c.attempts)
        for c in db.scalars(select(RecoveryCase).where(RecoveryCase.merchant_id == merchant_id))
    ]


def test_a_run_keeps_the_time_zone_it_was_made_in(client, db, owner, login):
    settings.settings_for(owner.merchant_id).timezone = "Asia/Tokyo"
    db.commit()
    made = run(owner.merchant)
    first = (T0 - timedelta(days=2)).date()
    first = f"{first:%b} {first.day}, {first.year}"
    settings.settings_for(owner.merchant_id).timezone = "America/New_York"
    db.commit()
    login(client, owner.email, PASSWORD)
    page = client.get(f"/dry-runs/{made.id}").get_data(as_text=True)
    assert f"Dry run of {first} to " in page and ", in Japan Time (Tokyo), replayed" in page
    assert "New York" not in page.split("<h1>", 1)[1].split("</p>", 1)[0]


def test_an_email_held_by_quiet_hours_past_now_is_still_to_come_not_lost(client, db, owner, login):
    late = cart(owner.merchant_id, "late@example.com", hours=240 - 0.7)  # expired 12 min ago
    hour = late.expired_at.hour  # the merchant's zone is UTC: quiet from then for two hours
    done = run(owner.merchant, steps=(0,), quiet_start=hour, quiet_end=(hour + 2) % 24)
    assert done.results["would"] == {"waiting": 1}
    login(client, owner.email, PASSWORD)
    page = client.get(f"/dry-runs/{done.id}").get_data(as_text=True)
    assert re.search(r'data-figure="skipped">(\d+)<', page).group(1) == "0"
    assert re.search(r'data-figure="waiting">(\d+)<', page).group(1) == "1"
    assert "it is not lost, it goes when it is due" in page
    assert "First email due after now (for example after quiet hours)" in page


def test_quiet_hours_may_follow_the_shoppers_clock_in_a_dry_run(client, db, owner, login):
    late = cart(owner.merchant_id, "tokyo@example.com", hours=240 - 0.7, country="JP")
    tokyo_hour = (late.expired_at.hour + 9) % 24  # Japan: UTC+9, one zone, no summer time
    quiet = dict(steps=(0,), quiet_start=tokyo_hour, quiet_end=(tokyo_hour + 2) % 24)
    assert run(owner.merchant, **quiet).results["would"] == {"emailed": 1}  # UTC: not quiet
    shopper = run(owner.merchant, quiet_zone="shopper", **quiet)
    assert shopper.results["would"] == {"waiting": 1}  # Tokyo: quiet now
    login(client, owner.email, PASSWORD)
    page = html.unescape(client.get(f"/dry-runs/{shopper.id}").get_data(as_text=True))
    assert "the shopper’s time" in page
