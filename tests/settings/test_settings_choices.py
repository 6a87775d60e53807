"""The settings' lists: coupons for promotion codes, locales, and time zones without aliases."""

from __future__ import annotations

import re

import pytest

from factories import PASSWORD, make_connected
from helpers import error_beside, post_form
from portal.models import SendingSettings
from settings_kit import VALID, stored


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


def test_without_coupons_on_the_sandbox_the_hint_links_its_account_page_not_a_dashboard(
    client, login, sandbox_server
):
    import stripe

    platform = stripe.StripeClient(
        sandbox_server.config["PLATFORM_SECRET_KEY"],
        base_addresses={"api": sandbox_server.base, "connect": sandbox_server.base},
    )
    account = platform.v1.accounts.create({"type": "standard"}).id
    make_connected(account, email="nocoupons@example.com")
    login(client, "nocoupons@example.com", PASSWORD)
    page = client.get("/settings").get_data(as_text=True)
    link = f'<a href="{sandbox_server.base}/_sandbox/accounts/{account}">'
    assert f"make one on {link}your sandbox account's page</a>" in page
    assert "Stripe Dashboard" not in page


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
