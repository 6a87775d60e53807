"""Turning recovery on and off from the settings page, and the prerequisites it names."""

from __future__ import annotations

import re


from factories import PASSWORD, make_connected
from helpers import error_beside, post_form
from portal.models import Merchant
from portal.services import terms
from settings_kit import VALID, policy


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


def test_the_checklist_asks_for_the_postal_address_before_turning_on(client, db, login):
    user = make_connected(email="checklist@example.com")
    terms.accept(user.merchant, user, "127.0.0.1")
    db.commit()
    login(client, "checklist@example.com", PASSWORD)
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'class="step"[^>]*data-step="address"', home)  # to do, not done
    assert post_form(client, "/settings", VALID).status_code == 302
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'class="step done"[^>]*data-step="address"', home)
