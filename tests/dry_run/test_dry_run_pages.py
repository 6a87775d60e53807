"""The dry-run pages: starting and following a run, form errors, and the runs listed."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from factories import PASSWORD, make_owner
from helpers import post_form
from portal import jobs
from portal.extensions import connect_redis, rq
from portal.models import DryRun, DryRunStatus
from portal.services import dry_run, settings
from dry_run_kit import NOW, T0, run, seed


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


def test_a_dry_run_redis_refused_says_nothing_was_counted(client, db, owner, login, monkeypatch):
    seed(db, owner.merchant_id)
    login(client, owner.email, PASSWORD)
    monkeypatch.setattr(rq, "connection", connect_redis("redis://127.0.0.1:1/0"))
    response = post_form(client, "/dry-runs/", _form(), page="/dry-runs/")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "could not be queued just now" in page and "Nothing was counted." in page
    assert "No cart expired in this period" not in page


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


def test_a_finished_run_with_no_cart_shows_a_full_bar(client, db, owner, login):
    login(client, owner.email, PASSWORD)  # no carts at all: nothing to replay
    response = post_form(client, "/dry-runs/", _form())
    run_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    page = client.get(f"/dry-runs/{run_id}/progress").get_data(as_text=True)
    assert re.search(r'id="dry-run-bar" max="1" value="0"', page)  # queued: empty
    assert jobs.run_dry_run(run_id) == DryRunStatus.DONE
    page = client.get(f"/dry-runs/{run_id}").get_data(as_text=True)
    assert "No cart expired in this period" in page
    assert re.search(r'id="dry-run-bar" max="1" value="1"', page)
