"""Dry runs: the rules replayed over past carts under candidate settings, counted by outcome,
resumable after a crash, read-only (nothing sent, no case changed), and their pages."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from factories import PASSWORD, make_owner
from helpers import post_form
from portal import jobs
from portal.db import utcnow
from portal.extensions import connect_redis, rq
from portal.models import (
    CheckoutSession,
    ConsentChange,
    Contact,
    DryRun,
    DryRunStatus,
    EmailSend,
    OutboxMessage,
    RecoveryCase,
)
from portal.services import dry_run, replay, settings
from smtp_sink import SmtpSink

NOW = utcnow()
T0 = NOW - timedelta(days=10)  # every step of every cart below is due before now
_seq = iter(range(1, 10**6))


@pytest.fixture
def owner(app, db, redis_conn, monkeypatch):
    monkeypatch.setattr(rq, "connection", redis_conn)
    return make_owner(email=f"dry{next(_seq)}@example.com")


def cart(merchant_id, email, hours=0.0, consent="opt_in", **extra):
    """An expired live cart (recovery link for 30 days) and its case, `hours` after T0."""
    n = next(_seq)
    created = T0 + timedelta(hours=hours)
    expired = created + timedelta(minutes=30)
    values = dict(
        merchant_id=merchant_id,
        session_id=f"cs_live_dry{n}",
        livemode=True,
        created_at=created,
        expired_at=expired,
        status="expired",
        payment_status="unpaid",
        email=email,
        consent_promotions=consent,
        recovery_url=f"https://pay.example/r/{n}",
        recovery_expires_at=expired + timedelta(days=30),
        state_at=expired,
    )
    values.update({k: v for k, v in extra.items() if hasattr(CheckoutSession, k)})
    session = CheckoutSession(**values)
    from portal import db

    db.session.add(session)
    db.session.flush()
    case = RecoveryCase(
        merchant_id=merchant_id,
        checkout_session_id=session.id,
        created_at=expired,
        expired_at=expired,
        status="skipped",
        reason=extra.get("reason", "merchant_disabled"),
        emailed_at=extra.get("emailed_at"),
    )
    db.session.add(case)
    db.session.commit()
    return case


def seed(db, merchant_id) -> dict:
    """Carts with one reason each to be, or not be, emailed; the expected replay of each under
    the default candidate (one email an hour after expiry, a 24-hour cap, no holdout)."""
    fresh = [cart(merchant_id, f"shopper{i}@example.com", hours=i) for i in range(6)]
    cart(merchant_id, "optout@example.com", hours=7, consent="opt_out")
    cart(merchant_id, "noconsent@example.com", hours=8, consent=None)
    cart(merchant_id, "gone@example.com", hours=9)
    unsubscribe(db, merchant_id, "gone@example.com", T0 - timedelta(days=1))
    cart(merchant_id, "test@example.com", hours=10, session_id="cs_test_dry", livemode=False)
    cart(merchant_id, "nolink@example.com", hours=11, recovery_url=None)
    cart(merchant_id, "twice@example.com", hours=12)  # emailed
    cart(merchant_id, "twice@example.com", hours=14)  # 2 h later: the cap stops it
    cart(merchant_id, "again@example.com", hours=20)  # a later checkout follows it
    cart(merchant_id, "again@example.com", hours=21)  # emailed
    cart(merchant_id, "old@example.com", hours=-24 * 40)  # before the period: not counted
    # What actually happened: two emailed (one with a follow-up), the rest skipped.
    emailed(db, fresh[0], steps=2)
    emailed(db, fresh[1], steps=1)
    return {
        "emailed": 8,
        "no_consent": 2,
        "unsubscribed": 1,
        "test_mode": 1,
        "no_recovery_url": 1,
        "frequency_cap": 1,
        "later_session": 1,
    }


def unsubscribe(db, merchant_id, email, when) -> None:
    """The address unsubscribed at `when`: its ledger entry and its current status."""
    change = dict(merchant_id=merchant_id, email=email, status="unsubscribed")
    db.add(Contact(**change, updated_at=when, source="unsubscribe_link"))
    db.add(ConsentChange(**change, source="unsubscribe_link", source_ref="u1", occurred_at=when))
    db.commit()


def emailed(db, case, steps: int) -> None:
    """The case really was emailed, `steps` emails in all."""
    case.emailed_at, case.reason, case.status = case.expired_at + timedelta(hours=1), None, "done"
    for step in range(steps):
        db.add(
            EmailSend(
                merchant_id=case.merchant_id,
                case_id=case.id,
                step=step,
                to_address="x@example.com",
                status="sent",
                message_id=f"<{case.id}.{step}@example.com>",
                created_at=T0,
            )
        )
    db.commit()


def run(merchant, first_day=None, **candidate) -> DryRun:
    """A dry run started and replayed to the end through the job."""
    from portal import db

    first_day = first_day or (T0 - timedelta(days=2)).date()
    base = {"steps": (60,), "frequency_cap_hours": 24, "test_mode": "record", "as_enabled": True}
    started = dry_run.start(
        merchant, None, dry_run.Candidate(**{**base, **candidate}), first_day, NOW.date()
    )
    db.session.commit()
    assert jobs.run_dry_run(started.id) == DryRunStatus.DONE
    return db.session.get(DryRun, started.id)


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


def _form(**changes) -> dict:
    today = NOW.date()
    data = {
        "since": (today - timedelta(days=29)).isoformat(),
        "until": today.isoformat(),
        "steps-0-delay": "1",
        "steps-0-unit": "hours",
        "quiet_start": "",
        "quiet_end": "",
        "frequency_cap_hours": "24",
        "holdout_percent": "0",
        "test_mode": "record",
        "as_enabled": "y",
    }
    return {**data, **changes}


def test_the_pages_start_follow_and_show_a_dry_run_without_javascript(client, db, owner, login):
    seed(db, owner.merchant_id)
    settings.settings_for(owner.merchant_id).holdout_percent = 10
    db.commit()
    login(client, owner.email, PASSWORD)
    form = client.get("/dry-runs/").get_data(as_text=True)
    assert f'value="{(NOW.date() - timedelta(days=29)).isoformat()}"' in form
    assert re.search(r'id="holdout_percent"[^>]*value="10"', form)
    assert "Dry run" in client.get("/settings").get_data(as_text=True)
    response = post_form(
        client, "/dry-runs/", _form(since=(T0 - timedelta(days=1)).date().isoformat())
    )
    assert response.status_code == 303
    run_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    queued = client.get(f"/dry-runs/{run_id}").get_data(as_text=True)
    assert '<meta http-equiv="refresh"' in queued and ">Refresh</a>" in queued
    assert f'hx-get="/dry-runs/{run_id}/progress"' in queued
    again = post_form(client, "/dry-runs/", _form(), page="/dry-runs/")
    assert again.status_code == 409 and "already running" in again.get_data(as_text=True)
    assert jobs.run_dry_run(run_id) == DryRunStatus.DONE
    page = client.get(f"/dry-runs/{run_id}").get_data(as_text=True)
    assert "hx-get" not in page and 'http-equiv="refresh"' not in page
    assert re.search(r'data-figure="first">(\d+)<', page).group(1) == "8"
    assert "The shopper started a later checkout" in page and "later_session" not in page.replace(
        'data-outcome="later_session"', ""
    )
    assert "/carts/" in page and "Finished" in page


def test_another_merchants_dry_run_is_not_found(client, db, owner, login):
    theirs = run(owner.merchant)
    other = make_owner(email="other-dry@example.com")
    login(client, other.email, PASSWORD)
    assert client.get(f"/dry-runs/{theirs.id}").status_code == 404
    assert client.get(f"/dry-runs/{theirs.id}/progress").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"holdout_percent": "80"}, "holdout_percent", "Choose from 0 to 50 %."),
        ({"steps-1-delay": "30", "steps-1-unit": "minutes"}, "steps-1-delay", "later than"),
        ({"since": "2020-01-01"}, "since", "at most 366 days"),
        ({"until": "2999-01-01"}, "until", "up to today"),
        ({"since": "not a date"}, "since", "Enter a day as year-month-day"),
        ({"since": "２０２６-１１-０１"}, "since", "Enter a day as year-month-day"),  # full-width
        ({"quiet_start": "22"}, "quiet_end", "both a start and an end"),
    ],
)
def test_form_errors_show_beside_their_field(client, db, owner, login, changes, field, message):
    login(client, owner.email, PASSWORD)
    response = post_form(client, "/dry-runs/", _form(**changes))
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and message in html
    tag = re.search(rf'<(?:input|select)[^>]*\bid="{field}"[^>]*>', html).group(0)
    assert 'aria-invalid="true"' in tag
    assert db.scalar(select(func.count(DryRun.id))) == 0


def test_a_run_given_up_while_its_job_still_works_stays_given_up(db, owner, monkeypatch):
    seed(db, owner.merchant_id)
    monkeypatch.setattr(dry_run, "BATCH", 4)
    real, calls = dry_run._next_ids, []

    def give_up_before_second_batch(run):
        calls.append(1)
        if len(calls) == 2:  # meanwhile, the run was marked failed (its job seemed lost)
            with db.get_bind().connect() as other:
                other.execute(update(DryRun).where(DryRun.id == run.id).values(status="failed"))
                other.commit()
        return real(run)

    monkeypatch.setattr(dry_run, "_next_ids", give_up_before_second_batch)
    started = dry_run.start(owner.merchant, None, dry_run.Candidate(), T0.date(), NOW.date())
    db.commit()
    assert jobs.run_dry_run(started.id) == DryRunStatus.FAILED
    db.rollback()
    given_up = db.get(DryRun, started.id)
    assert given_up.status == DryRunStatus.FAILED and given_up.done == 4


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


def test_the_dry_run_form_shows_every_problem_at_once(client, db, owner, login):
    login(client, owner.email, PASSWORD)
    today = NOW.date()
    response = post_form(
        client,
        "/dry-runs/",
        _form(
            frequency_cap_hours="",
            holdout_percent="99",
            since=today.isoformat(),
            until=(today - timedelta(days=3)).isoformat(),
            quiet_end="x",
        ),
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    for message in (
        "Enter a number of hours.",
        "Choose from 0 to 50 %.",
        "Start the period on or before its last day.",
    ):
        assert message in page


def test_a_period_before_1970_is_refused_in_words_in_any_time_zone(client, db, owner, login):
    settings.settings_for(owner.merchant_id).timezone = "Asia/Tokyo"
    db.commit()
    login(client, owner.email, PASSWORD)
    response = post_form(client, "/dry-runs/", _form(since="0001-01-01", until="0001-01-02"))
    assert response.status_code == 400
    assert response.get_data(as_text=True).count("Choose a day from 1970 on.") == 2
    garbled = post_form(client, "/dry-runs/", _form(since="next tuesday"))
    assert "Enter a day as year-month-day, like 2026-03-01." in garbled.get_data(as_text=True)


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


def test_a_dry_run_redis_refused_says_nothing_was_counted(client, db, owner, login, monkeypatch):
    seed(db, owner.merchant_id)
    login(client, owner.email, PASSWORD)
    monkeypatch.setattr(rq, "connection", connect_redis("redis://127.0.0.1:1/0"))
    response = post_form(client, "/dry-runs/", _form(), page="/dry-runs/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "could not be queued just now" in page and "Nothing was counted." in page
    assert "No cart expired in this period" not in page


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


def test_the_dry_run_form_tries_whose_clock_quiet_hours_follow(client, db, owner, login):
    login(client, owner.email, PASSWORD)
    form = client.get("/dry-runs/").get_data(as_text=True)
    assert 'name="quiet_zone"' in form and "Your time zone: UTC" in form
    changes = {"quiet_start": "22", "quiet_end": "7", "quiet_zone": "moon"}
    refused = post_form(client, "/dry-runs/", _form(**changes), page="/dry-runs/")
    assert refused.status_code == 400
    assert db.query(DryRun).filter_by(merchant_id=owner.merchant_id).count() == 0
    response = post_form(client, "/dry-runs/", _form(**{**changes, "quiet_zone": "shopper"}))
    assert response.status_code == 303
    (made,) = db.query(DryRun).filter_by(merchant_id=owner.merchant_id).all()
    assert made.settings["quiet_zone"] == "shopper"


def test_recent_dry_runs_tell_apart_the_settings_each_tried(client, db, owner, login):
    seed(db, owner.merchant_id)
    login(client, owner.email, PASSWORD)
    since = (T0 - timedelta(days=1)).date().isoformat()
    tries = [
        _form(since=since),
        _form(since=since, **{"steps-1-delay": "90", "quiet_start": "21", "quiet_end": "8"}),
    ]
    for data in tries:
        response = post_form(client, "/dry-runs/", data)
        assert response.status_code == 303
        jobs.run_dry_run(int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1]))
    rows = re.findall(
        r"<tr><td data-label=\"Started\".*?</tr>", client.get("/dry-runs/").text, re.S
    )
    tried = [re.search(r'"Settings tried">(.*?)</td>', row, re.S).group(1) for row in rows]
    assert tried == ["1 h, 90 min after expiry; quiet 21:00–08:00", "1 h after expiry"]
    assert all(
        re.search(r'"First emails">\d+ would go, <span class="muted">\d+ went, of \d+ carts?<', r)
        for r in rows
    )


def test_a_runs_email_times_read_as_words():
    from portal.web.dry_run import steps_words

    assert steps_words([]) == "No email"
    assert steps_words([0]) == "At expiry"
    assert steps_words([0, 60, 90]) == "At expiry, 1 h, 90 min after expiry"
    assert steps_words([60, 1440]) == "1 h, 24 h after expiry"
