"""The subscriptions pages in headless Chromium: the owner searches an address, opens its
customer page, unsubscribes it by hand and reads the change in its history; the list and the
customer page fit 1280 and 375 px (a long address wraps)."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from playwright.sync_api import expect

from factories import PASSWORD, make_owner
from portal import db
from portal.services import consent
import screens

pytestmark = pytest.mark.browser
LONG = "ola.nordmann.with.a.very.long.address.that.never.breaks@subdomain.example-shop.com"


@pytest.fixture
def portal(app, live_server) -> str:
    owner = make_owner("Bean Shop", "owner@bean.example")
    when = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    changes = [
        consent.Change(owner.merchant_id, email, "subscribed", "checkout_session", f"cs_{n}", when)
        for n, email in enumerate([LONG, "kari@example.com", "ola@example.com"])
    ]
    consent.record(changes)
    db.session.commit()
    return live_server


def _shoot(page, name: str) -> None:
    screens.shoot(page, f"subscriptions-{name}")


def test_search_open_unsubscribe_and_read_the_history(portal, page):
    page.goto(f"{portal}/login")
    page.get_by_label("Email").fill("owner@bean.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Bean Shop").wait_for()
    page.get_by_role("link", name="Subscriptions").click()
    page.get_by_role("heading", name="Subscriptions").wait_for()
    _shoot(page, "list")

    page.get_by_label("Address starts with").fill("OLA.NORD")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("a.address")).to_have_text([LONG])
    page.get_by_role("link", name=LONG).click()
    page.get_by_role("heading", name=LONG).wait_for()
    page.get_by_text("Erase this address").click()  # its button names the long address
    _shoot(page, "customer")
    page.get_by_text("Erase this address").click()

    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator(".flash")).to_contain_text("Unsubscribed: recorded as changed by you")
    newest = page.locator("section", has_text="History").get_by_role("row").nth(1)
    expect(newest).to_contain_text("Unsubscribed")
    expect(newest).to_contain_text("Changed by hand")
    expect(newest).to_contain_text("owner@bean.example")
    page.get_by_role("button", name="Subscribe", exact=True).wait_for()  # now offered instead
    _shoot(page, "changed")
