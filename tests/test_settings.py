"""The sending settings page: saving, refusing, turning recovery on and off, who may do it."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from factories import PASSWORD, make_connected, make_member, make_owner
from helpers import post_form
from portal.models import Merchant, SendingSettings
from portal.services import rules, settings, terms

VALID = {
    "business_name": "Acme Tea",
    "sender_name": "Acme Tea",
    "reply_to": "help@acme.example",
    "postal_address": "1 Leaf Lane\r\nPortland, OR 97201",
    "timezone": "Europe/Paris",
    "quiet_start": "22",
    "quiet_end": "7",
    "steps-0-delay": "30",
    "steps-0-unit": "minutes",
    "steps-1-delay": "24",
    "steps-1-unit": "hours",
    "steps-2-delay": "72",
    "steps-2-unit": "hours",
    "frequency_cap_hours": "48",
    "holdout_percent": "10",
    "test_mode": "team",
    "locale": "fr_FR",
}


@pytest.fixture
def owner(client, login):
    user = make_owner("Acme Tea", "owner@example.com")
    login(client, "owner@example.com", PASSWORD)
    return user


def stored(db, merchant_id: int) -> SendingSettings | None:
    db.expire_all()
    return db.get(SendingSettings, merchant_id)


def policy(db, merchant_id: int) -> rules.Policy:
    db.expire_all()
    merchant = db.get(Merchant, merchant_id)
    return settings.policy_for(merchant, settings.settings_for(merchant_id), None, False)


def value_of(page: str, field_id: str) -> str:
    """The value attribute of the input whose id is `field_id`."""
    tag = re.search(rf'<input[^>]*\bid="{field_id}"[^>]*>', page)
    assert tag, f"no input {field_id}"
    return html.unescape(re.search(r'\bvalue="([^"]*)"', tag.group()).group(1))


def error_beside(page: str, field_id: str) -> str:
    """The first error message inside the field block that holds the control `field_id`."""
    blocks = re.split(r'<div class="field', page)
    block = next(b for b in blocks if f'id="{field_id}"' in b)
    match = re.search(r'<p class="error"[^>]*>([^<]+)</p>', block)
    assert match, f"no error beside {field_id}"
    return html.unescape(match.group(1))


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
        ({"business_name": "  "}, "business_name", "in every email: enter it"),
        ({"business_name": "A" * 201}, "business_name", "at most 200"),
        ({"business_name": "Acme\u2028Tea"}, "business_name", "line break"),
        ({"reply_to": "help@acme.example\r\nBcc: x@evil.example"}, "reply_to", "one email"),
        ({"reply_to": "Help <help@acme.example>"}, "reply_to", "one email"),
        ({"reply_to": "a@b.example, c@d.example"}, "reply_to", "one email"),
        ({"reply_to": "hélp@acme.example"}, "reply_to", "ASCII"),
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


def test_turning_on_without_prerequisites_names_each_and_stays_off(client, db, owner):
    response = post_form(client, "/settings/enable", {}, page="/settings")
    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Recovery emails stay off until these are done:" in page
    for key, link in (
        ("stripe", 'href="/connect"'),
        ("terms", 'href="/terms"'),
        ("postal_address", 'href="/settings#postal_address"'),
    ):
        item = re.search(rf'<li data-missing="{key}">(.*?)</li>', page, re.S)
        assert item and link in item.group(1)
    assert "Stripe account is not connected" in page and "terms are not accepted" in page
    assert "no postal address" in page
    db.expire_all()
    assert not db.get(Merchant, owner.merchant_id).recovery_enabled


def test_turning_on_names_only_what_is_still_missing(client, db, login):
    user = make_connected(email="half@example.com")
    login(client, "half@example.com", PASSWORD)
    assert post_form(client, "/settings", VALID).status_code == 302
    page = post_form(client, "/settings/enable", {}, page="/settings").get_data(as_text=True)
    assert re.findall(r'data-missing="(\w+)"', page) == ["terms"]
    switch = re.search(r"<button[^>]*>Turn recovery emails on</button>", page).group(0)
    assert "disabled" in switch and "works once the steps above are done" in page
    db.expire_all()
    assert not db.get(Merchant, user.merchant_id).recovery_enabled


def test_turning_on_with_every_prerequisite_works_and_off_again(client, db, login):
    user = make_connected(email="ready@example.com")
    terms.accept(user.merchant, user, "127.0.0.1")
    db.commit()
    login(client, "ready@example.com", PASSWORD)
    assert post_form(client, "/settings", VALID).status_code == 302
    page = client.get("/settings").get_data(as_text=True)
    switch = re.search(r"<button[^>]*>Turn recovery emails on</button>", page).group(0)
    assert "disabled" not in switch
    response = post_form(client, "/settings/enable", {}, page="/settings")
    assert response.status_code == 302 and response.headers["Location"] == "/settings"
    db.expire_all()
    assert db.get(Merchant, user.merchant_id).recovery_enabled
    assert policy(db, user.merchant_id).enabled
    page = client.get("/settings").get_data(as_text=True)
    assert "Recovery emails are on." in page and "Turn recovery emails off" in page
    no_address = {**VALID, "postal_address": ""}  # while on, the footer's address must stay
    refused = post_form(client, "/settings", no_address)
    assert refused.status_code == 400
    assert "must show a postal address" in error_beside(
        refused.get_data(as_text=True), "postal_address"
    )
    assert post_form(client, "/settings/disable", {}, page="/settings").status_code == 302
    db.expire_all()
    assert not db.get(Merchant, user.merchant_id).recovery_enabled


def test_members_see_the_settings_read_only_and_cannot_change_them(client, db, login, owner):
    assert post_form(client, "/settings", VALID).status_code == 302
    make_member(owner.merchant_id, "member@example.com")
    member = client.application.test_client()
    login(member, "member@example.com", PASSWORD)
    page = member.get("/settings").get_data(as_text=True)
    assert "Only the account's owner can change these settings." in page
    assert 'action="/settings"' not in page and "Turn recovery emails on" not in page
    assert "30 minutes after expiry" in page and "24 hours after expiry" in page
    assert "22:00 to 07:00" in page and "Send to your team only" in page
    assert (
        "Central European Time (Paris)" in page
        and "Europe/Paris" not in page
        and "10 % of eligible carts" in page
    )
    for path in ("/settings", "/settings/enable", "/settings/disable"):
        response = post_form(member, path, {**VALID, "sender_name": "Taken over"}, page="/")
        assert response.status_code == 403, path
    assert stored(db, owner.merchant_id).sender_name == "Acme Tea"
    assert not db.get(Merchant, owner.merchant_id).recovery_enabled


def test_another_merchants_settings_are_never_shown_or_changed(client, db, login):
    alice = make_owner("Alice Shop", "alice@example.com")
    login(client, "alice@example.com", PASSWORD)
    secret = {**VALID, "sender_name": "Alice Secret", "postal_address": "9 Hidden Way"}
    assert post_form(client, "/settings", secret).status_code == 302
    bob = make_owner("Bob Shop", "bob@example.com")
    other = client.application.test_client()
    login(other, "bob@example.com", PASSWORD)
    page = other.get("/settings").get_data(as_text=True)
    assert "Alice" not in page and "Hidden Way" not in page
    assert post_form(other, "/settings", {**VALID, "sender_name": "Bob"}).status_code == 302
    assert stored(db, alice.merchant_id).sender_name == "Alice Secret"
    assert stored(db, bob.merchant_id).sender_name == "Bob"


def test_logged_out_visitors_are_sent_to_log_in(client, db):
    make_owner("Acme Tea", "owner@example.com")
    assert client.get("/settings").headers["Location"].startswith("/login?next=")
    token = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', token).group(1)
    for path in ("/settings", "/settings/enable", "/settings/disable"):
        response = client.post(path, data={**VALID, "csrf_token": csrf})
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login")
    assert db.scalars(select(SendingSettings)).first() is None


def test_the_service_refuses_the_same_values_without_the_page(db):
    owner = make_owner()
    values = settings.Values(steps=(settings.StepValues(60), settings.StepValues(60)))
    assert settings.update(owner.merchant, values) == [
        ("steps.1", "Send each email later than the one before it.")
    ]
    assert settings.problems(settings.Values(sender_name="A\nB"))[0][0] == "sender_name"
    assert settings.update(owner.merchant, settings.Values(timezone="Asia/Tokyo")) == []
    assert settings.settings_for(owner.merchant_id).timezone == "Asia/Tokyo"


def test_promotion_codes_come_from_a_coupon_picked_from_the_merchants_stripe_coupons(
    client, db, login, sandbox_server, monkeypatch
):
    import stripe

    platform = stripe.StripeClient(
        sandbox_server.config["PLATFORM_SECRET_KEY"],
        base_addresses={"api": sandbox_server.base, "connect": sandbox_server.base},
    )
    account = platform.v1.accounts.create({"type": "standard"}).id
    shop = stripe.StripeClient(
        sandbox_server.config["PLATFORM_SECRET_KEY"],
        stripe_account=account,
        base_addresses={"api": sandbox_server.base},
    )
    shop.v1.coupons.create({"id": "BACK10", "percent_off": 10, "name": "Come back"})
    owner = make_connected(account, email="coupons@example.com")
    login(client, "coupons@example.com", PASSWORD)
    page = client.get("/settings").get_data(as_text=True)
    assert '<option value="BACK10">Come back (10% off)</option>' in page
    with_code = {**VALID, "steps-1-promotion": "y"}
    unticked = post_form(client, "/settings", with_code)
    assert unticked.status_code == 400
    assert "Choose the coupon" in error_beside(unticked.get_data(as_text=True), "coupon_id")
    forged = post_form(client, "/settings", {**with_code, "coupon_id": "NOT-MINE"})
    assert "Choose one of your Stripe coupons." in error_beside(
        forged.get_data(as_text=True), "coupon_id"
    )
    saved = post_form(client, "/settings", {**with_code, "coupon_id": "BACK10"})
    assert saved.status_code == 302
    row = stored(db, owner.merchant_id)
    assert row.coupon_id == "BACK10" and row.steps[1]["promotion"] is True
    # Stripe unreachable (nothing listens on port 9): the page says so, the choice stays.
    monkeypatch.setitem(client.application.config, "STRIPE_API_BASE", "http://127.0.0.1:9")
    away = client.get("/settings").get_data(as_text=True)
    assert "Stripe could not be reached just now, so your coupons cannot be listed" in away
    assert "create one in your Stripe Dashboard" not in away
    assert '<option selected value="BACK10">BACK10</option>' in away


@pytest.mark.parametrize("locale", ["", "xx_YY", "fr-FR", "en_US\n", "x" * 300])
def test_amounts_and_dates_take_a_locale_from_the_list_only(client, owner, db, locale):
    response = post_form(client, "/settings", {**VALID, "locale": locale})
    assert response.status_code == 400
    assert "Choose a language and region from the list." in response.get_data(as_text=True)
    assert db.get(SendingSettings, owner.merchant_id) is None or (
        db.get(SendingSettings, owner.merchant_id).locale == "en_US"
    )


ALIASES = ("Asia/Calcutta", "Asia/Saigon", "America/Buenos_Aires", "Europe/Kiev", "US/Eastern")


def test_the_zone_list_offers_each_places_current_name_and_no_alias():
    from portal.web.zones import zone_choices

    listed = {choice.value: choice for choice in zone_choices()}
    current = {"UTC", "Asia/Kolkata", "Asia/Ho_Chi_Minh", "America/Argentina/Buenos_Aires"}
    assert current | {"Europe/Kyiv", "Europe/Oslo", "America/New_York"} <= set(listed)
    assert not set(listed) & {*ALIASES, "Etc/GMT+5", "Factory", "localtime", "EST5EDT", "GB"}
    assert (listed["America/New_York"].label, listed["America/New_York"].optgroup) == (
        "New York (Eastern Time)",  # the place first, as one looks it up, and its time's name
        "America",
    )
    assert listed["Antarctica/Troll"].label == "Troll"  # no common name: the place alone


@pytest.mark.parametrize("alias", ALIASES)
def test_a_stored_alias_stays_accepted_and_selected(client, db, owner, alias):
    response = post_form(client, "/settings", {**VALID, "timezone": alias})
    assert response.status_code == 302
    assert stored(db, owner.merchant_id).timezone == alias
    page = client.get("/settings").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="timezone".*?</select>', page, flags=re.S)[0]
    assert f'<option selected value="{alias}">' in select
    assert {other for other in ALIASES if f'value="{other}"' in select} == {alias}


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


def test_the_checklist_asks_for_the_postal_address_before_turning_on(client, db, login):
    user = make_connected(email="checklist@example.com")
    terms.accept(user.merchant, user, "127.0.0.1")
    db.commit()
    login(client, "checklist@example.com", PASSWORD)
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'class="step "[^>]*data-step="address"', home)  # to do, not done
    assert post_form(client, "/settings", VALID).status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'class="step done"[^>]*data-step="address"', home)


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
