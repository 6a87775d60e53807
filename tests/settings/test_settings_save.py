"""Saving the sending settings: what is stored, what is refused beside its field, conflicts."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from factories import make_owner
from helpers import csrf_token, error_beside, post_form
from portal.models import Merchant, SendingSettings
from portal.services import rules, settings, settings_values
from settings_kit import VALID, policy, stored


def value_of(page: str, field_id: str) -> str:
    """The value attribute of the input whose id is `field_id`."""
    tag = re.search(rf'<input[^>]*\bid="{field_id}"[^>]*>', page)
    assert tag, f"no input {field_id}"
    return html.unescape(re.search(r'\bvalue="([^"]*)"', tag.group()).group(1))


def test_saving_has_the_carts_already_waiting_decided_again(client, db, owner, redis_conn):
    from rq import Queue

    assert post_form(client, "/settings", VALID).status_code == 302
    jobs = Queue("default", connection=redis_conn).get_jobs()
    assert [(job.func_name, job.args) for job in jobs] == [
        ("portal.jobs.reconsider_cases", (owner.merchant_id,))
    ]


def test_quiet_hours_may_follow_the_shoppers_clock(client, db, owner):
    assert policy(db, owner.merchant_id).quiet_zone == "merchant"  # the default
    assert post_form(client, "/settings", {**VALID, "quiet_zone": "shopper"}).status_code == 302
    assert policy(db, owner.merchant_id).quiet_zone == "shopper"
    page = client.get("/settings").get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*value="shopper"|value="shopper"[^>]*checked', page)
    refused = post_form(client, "/settings", {**VALID, "quiet_zone": "moon"})
    assert refused.status_code == 400
    assert "Choose whose time the quiet hours follow." in refused.get_data(as_text=True)


def test_new_merchants_get_stripes_defaults(client, db, owner):
    page = client.get("/settings").get_data(as_text=True)
    assert value_of(page, "steps-0-delay") == "0" and value_of(page, "steps-1-delay") == ""
    got = policy(db, owner.merchant_id)
    assert got.steps == (rules.Step(timedelta(0)),) and got.timezone == "UTC"
    assert got.frequency_cap == timedelta(hours=24) and got.holdout_share == 0
    assert got.test_mode == "record" and got.quiet_hours is None


def test_saving_valid_settings_stores_them_and_the_policy_follows(client, db, owner):
    response = post_form(client, "/settings", VALID)
    assert response.status_code == 302 and response.headers["Location"] == "/settings"
    row = stored(db, owner.merchant_id)
    assert (row.sender_name, row.reply_to) == ("Acme Tea", "help@acme.example")
    assert row.postal_address == "1 Leaf Lane\nPortland, OR 97201"
    assert row.locale == "fr_FR"
    got = policy(db, owner.merchant_id)
    assert got.steps == (
        rules.Step(timedelta(minutes=30)),
        rules.Step(timedelta(hours=24)),
        rules.Step(timedelta(hours=72)),
    )
    assert (got.timezone, got.quiet_hours) == ("Europe/Paris", (22, 7))
    assert got.frequency_cap == timedelta(hours=48) and got.holdout_share == 0.1
    assert got.test_mode == "team"
    page = client.get("/settings").get_data(as_text=True)
    assert "Settings saved." in page and value_of(page, "reply_to") == "help@acme.example"
    assert value_of(page, "steps-1-delay") == "24" and value_of(page, "steps-0-delay") == "30"
    assert "connect Stripe first, then pick one here" in page  # this merchant is not connected


def test_the_business_name_is_changed_on_settings(client, db, owner):
    assert value_of(client.get("/settings").get_data(as_text=True), "business_name") == "Acme Tea"
    assert (
        post_form(client, "/settings", {**VALID, "business_name": " Acme Tea Co. "}).status_code
        == 302
    )
    assert db.get(Merchant, owner.merchant_id).name == "Acme Tea Co."
    # With a sender name of its own, the business name is not who the emails are from.
    assert (
        post_form(client, "/settings", {**VALID, "business_name": "Shop@Home"}).status_code == 302
    )


def test_empty_follow_ups_and_quiet_hours_are_left_out(client, db, owner):
    data = {**VALID, "quiet_start": "", "quiet_end": "", "reply_to": ""}
    data.update({"steps-1-delay": "", "steps-2-delay": "", "steps-0-delay": "0"})
    assert post_form(client, "/settings", data).status_code == 302
    got = policy(db, owner.merchant_id)
    assert got.steps == (rules.Step(timedelta(0)),) and got.quiet_hours is None
    assert stored(db, owner.merchant_id).reply_to is None


@pytest.mark.parametrize(
    ("change", "field_id", "message"),
    [
        ({"sender_name": "Acme\r\nBcc: x@evil.example"}, "sender_name", "line break"),
        ({"sender_name": "A" * 101}, "sender_name", "at most 100"),
        ({"sender_name": "Support <admin@bank.example>"}, "sender_name", "without < > or @"),
        ({"business_name": "  "}, "business_name", "in every email: enter it"),
        ({"business_name": "A" * 201}, "business_name", "at most 200"),
        ({"business_name": "Acme\u2028Tea"}, "business_name", "line break"),
        (
            {"business_name": "Bank <help@bank.example>", "sender_name": ""},
            "business_name",
            "While Sender name is empty, your emails show this as who they are from",
        ),
        ({"reply_to": "help@acme.example\r\nBcc: x@evil.example"}, "reply_to", "one email"),
        ({"reply_to": "Help <help@acme.example>"}, "reply_to", "one email"),
        ({"reply_to": "a@b.example, c@d.example"}, "reply_to", "one email"),
        ({"reply_to": "hélp@acme.example"}, "reply_to", "ASCII"),
        ({"reply_to": "walt@northwind.local"}, "reply_to", "northwind.local cannot be reached"),
        ({"reply_to": "support@intranet"}, "reply_to", "after the @ needs a dot"),
        ({"timezone": "Mars/Olympus_Mons"}, "timezone", "time zone from the list"),
        ({"timezone": "localtime"}, "timezone", "time zone from the list"),
        ({"quiet_start": "abc"}, "quiet_start", "Choose one of the list’s options."),
        ({"steps-0-delay": "73", "steps-0-unit": "hours"}, "steps-0-delay", "72 hours"),
        ({"steps-0-delay": "-1"}, "steps-0-delay", "0 minutes to 72 hours"),
        ({"steps-2-delay": "12", "steps-2-unit": "hours"}, "steps-2-delay", "later than"),
        ({"steps-1-delay": "30", "steps-1-unit": "minutes"}, "steps-1-delay", "later than"),
        ({"holdout_percent": "60"}, "holdout_percent", "0 to 50"),
        ({"quiet_start": "7", "quiet_end": "7"}, "quiet_end", "another hour"),
        ({"quiet_end": ""}, "quiet_end", "both a start and an end"),
        ({"frequency_cap_hours": "-1"}, "frequency_cap_hours", "0 to 720"),
        ({"frequency_cap_hours": "721"}, "frequency_cap_hours", "0 to 720"),
        (
            {"frequency_cap_hours": "a day"},
            "frequency_cap_hours",
            "Enter a whole number, like 24.",
        ),
        ({"frequency_cap_hours": "1_2"}, "frequency_cap_hours", "Enter a whole number, like 24."),
        ({"holdout_percent": "١٢"}, "holdout_percent", "Enter a whole number, like 24."),
        ({"test_mode": "shopper"}, "test_mode", "test-mode carts"),
        ({"postal_address": "1 Leaf Lane\x00"}, "postal_address", "control character"),
        ({"postal_address": "1 Leaf Lane \u202eenal"}, "postal_address", "a direction mark"),
        ({"postal_address": "x"}, "postal_address", "too short for a postal address"),
        ({"postal_address": "12345678901234567890"}, "postal_address", "this has no letters"),
        ({"postal_address": "\u200b" * 12}, "postal_address", "an invisible character"),
    ],
)
def test_each_invalid_field_is_refused_beside_it_and_nothing_is_stored(
    client, db, owner, change, field_id, message
):
    response = post_form(client, "/settings", {**VALID, **change})
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert message in error_beside(page, field_id)
    assert "Nothing was saved" in page
    for name, typed in change.items():  # what the merchant typed is still there
        if (
            name not in ("test_mode", "timezone", "quiet_start", "quiet_end")
            and "\x00" not in typed
        ):
            assert html.escape(typed.split("\r")[0]) in page
    assert stored(db, owner.merchant_id) is None


def test_more_than_three_emails_are_refused_beside_the_sequence(client, db, owner):
    data = {**VALID, "steps-3-delay": "100", "steps-3-unit": "hours"}
    response = post_form(client, "/settings", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    steps = page.split('id="steps"', 1)[1].split('id="steps-0-delay"', 1)[0]
    assert "Send up to 3 emails in all." in steps
    assert value_of(page, "steps-3-delay") == "100"
    assert stored(db, owner.merchant_id) is None


def test_a_refused_save_changes_nothing_already_stored(client, db, owner):
    assert post_form(client, "/settings", VALID).status_code == 302
    bad = {**VALID, "sender_name": "New name", "holdout_percent": "60"}
    assert post_form(client, "/settings", bad).status_code == 400
    row = stored(db, owner.merchant_id)
    assert (row.sender_name, row.holdout_percent) == ("Acme Tea", 10)


def test_the_service_refuses_the_same_values_without_the_page(db):
    owner = make_owner()
    values = settings_values.Values(
        steps=(settings_values.StepValues(60), settings_values.StepValues(60))
    )
    assert settings.update(owner.merchant, values) == [
        ("steps.1", "Send each email later than the one before it.")
    ]
    assert (
        settings_values.problems(settings_values.Values(sender_name="A\nB"))[0][0] == "sender_name"
    )
    assert settings.update(owner.merchant, settings_values.Values(timezone="Asia/Tokyo")) == []
    assert settings.settings_for(owner.merchant_id).timezone == "Asia/Tokyo"


def test_every_problem_shows_at_once_even_with_a_required_field_empty(client, db, owner):
    bad = {
        **VALID,
        "business_name": "",
        "reply_to": "not-an-email",
        "steps-0-delay": "120",
        "steps-0-unit": "hours",
        "frequency_cap_hours": "",
        "holdout_percent": "80",
        "quiet_start": "abc",
    }
    response = post_form(client, "/settings", bad)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert error_beside(page, "business_name") == "Your business name is in every email: enter it."
    assert error_beside(page, "reply_to").startswith("Enter one email address")
    assert error_beside(page, "steps-0-delay") == "Choose from 0 minutes to 72 hours after expiry."
    assert error_beside(page, "frequency_cap_hours") == "Enter a number of hours."
    assert error_beside(page, "holdout_percent").startswith("Choose from 0 to")
    assert error_beside(page, "quiet_start")
    assert stored(db, owner.merchant_id) is None


def test_a_save_from_a_page_older_than_a_change_since_is_refused_and_keeps_the_input(
    client, db, owner
):
    page = client.get("/settings").get_data(as_text=True)
    stamp = re.search(r'name="stamp" type="hidden" value="([0-9a-f]+)"', page).group(1)
    first = post_form(client, "/settings", {**VALID, "stamp": stamp, "sender_name": "Tab one"})
    assert first.status_code == 302  # the other tab saves first
    late = post_form(client, "/settings", {**VALID, "stamp": stamp, "reply_to": "b@acme.example"})
    shown = late.get_data(as_text=True)
    assert late.status_code == 409 and "changed since this page was opened" in shown
    assert 'value="b@acme.example"' in shown
    db.expire_all()
    held = stored(db, owner.merchant_id)
    assert (held.sender_name, held.reply_to) == ("Tab one", "help@acme.example")
    fresh = re.search(r'name="stamp" type="hidden" value="([0-9a-f]+)"', shown).group(1)
    again = post_form(client, "/settings", {**VALID, "stamp": fresh, "reply_to": "b@acme.example"})
    assert again.status_code == 302 and stored(db, owner.merchant_id).reply_to == "b@acme.example"
    # A double click: the second save of the same values is no conflict.
    assert (
        post_form(
            client, "/settings", {**VALID, "stamp": stamp, "reply_to": "b@acme.example"}
        ).status_code
        == 302
    )


def test_a_save_that_changes_nothing_says_so(client, db, owner):
    saved = post_form(client, "/settings", VALID, follow_redirects=True)
    assert "Settings saved." in saved.get_data(as_text=True)
    again = post_form(client, "/settings", VALID, follow_redirects=True)
    page = html.unescape(again.get_data(as_text=True))
    assert "Nothing changed: these settings were already the ones in use." in page
    assert "Settings saved." not in page
    changed = post_form(
        client, "/settings", {**VALID, "sender_name": "Other"}, follow_redirects=True
    )
    assert "Settings saved." in changed.get_data(as_text=True)


def test_a_save_while_redis_refuses_says_waiting_carts_keep_their_times(
    client, db, owner, monkeypatch
):
    from portal.extensions import connect_redis, rq

    monkeypatch.setattr(rq, "connection", connect_redis("redis://127.0.0.1:1/0"))
    response = post_form(client, "/settings", VALID)
    assert response.status_code == 302
    page = html.unescape(client.get("/settings").get_data(as_text=True))
    assert "Carts already waiting for an email keep their times for now" in page
    assert db.get(SendingSettings, owner.merchant_id).postal_address  # saved all the same


def test_a_save_without_the_pages_stamp_is_refused_when_it_would_change_what_is_stored(
    client, db, owner
):
    """A browser always sends the stamp of the settings its page showed; a request without
    one (or an empty one) must not replace settings unseen, though repeating them is fine."""
    assert post_form(client, "/settings", VALID).status_code == 302
    for stamp in ["", "0" * 16, "x" * 5000]:
        changed = {**VALID, "stamp": stamp, "sender_name": "Crafted"}
        refused = post_form(client, "/settings", changed)
        assert refused.status_code == 409, stamp[:8]
        # A stamp a page could carry was overtaken; any other names no page it was made from.
        said = refused.get_data(as_text=True)
        assert ("changed since this page was opened" in said) == (stamp == "0" * 16)
        assert ("did not say which settings it was made from" in said) == (stamp != "0" * 16)
        assert post_form(client, "/settings", {**VALID, "stamp": stamp}).status_code == 302
    bare = {"csrf_token": csrf_token(client, "/settings"), **VALID, "sender_name": "Crafted"}
    refused = client.post("/settings", data=bare)
    assert refused.status_code == 409
    assert "did not say which settings it was made from" in refused.get_data(as_text=True)
    db.expire_all()
    assert stored(db, owner.merchant_id).sender_name == VALID["sender_name"]
