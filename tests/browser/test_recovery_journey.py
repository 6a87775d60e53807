"""The product as people use it, in headless Chromium: a shopper abandons a cart in the Stripe
sandbox's shop, the merchant finds the email in the outbox, the shopper follows it and pays,
and the merchant sees the recovered payment."""

from __future__ import annotations

import re

import pytest

from factories import PASSWORD
from helpers import abandon_in_shop
from portal.extensions import rq
from recovery_kit import make_kit
from screens import shoot

pytestmark = pytest.mark.browser


def _merchant_finds_the_recovery_link_in_the_outbox(browser, live_server: str):
    """The merchant logs in and reads the email in the outbox: its button leads to the portal."""
    merchant = browser.new_context().new_page()
    merchant.set_default_timeout(10_000)
    merchant.goto(f"{live_server}/login")
    merchant.get_by_label("Email").fill("owner@bean.example")
    merchant.get_by_label("Password").fill(PASSWORD)
    merchant.get_by_role("button", name="Log in").click()
    merchant.get_by_role("link", name="Outbox").click()
    merchant.locator("main").get_by_role("link", name=re.compile("Bean Shop")).click()
    button = merchant.frame_locator("iframe").get_by_role("link", name="Return to your cart")
    recovery_link = button.get_attribute("href")
    assert recovery_link.startswith(f"{live_server}/r/")
    return merchant, recovery_link


def _merchant_follows_the_dashboard_to_the_carts_story(merchant):
    """From the dashboard to the recovered payment and the cart's story."""
    merchant.get_by_role("link", name="Dashboard").click()
    merchant.get_by_role("link", name="Recovered revenue").click()
    row = merchant.get_by_role("row").filter(has_text="ola@example.com")
    assert row.locator(".badge").inner_text() == "Recovered"
    row.get_by_role("link", name="Details").click()
    heading = merchant.get_by_role("heading", level=1)
    assert (
        "€27.50" in heading.inner_text() and heading.locator(".badge").inner_text() == "Recovered"
    )
    assert "after email 1" in merchant.locator(".lead").inner_text()
    shoot(merchant, "payment")
    merchant.get_by_role("link", name=re.compile("^The cart of €27.50")).click()
    timeline = merchant.locator(".timeline").inner_text()
    assert "Email 1 sent to ola@example.com" in timeline and "Paid €27.50: recovered" in timeline
    shoot(merchant, "cart")  # its emails table: sent, clicked, the design's version


def test_abandon_email_click_pay_recovered(
    app, live_server, sandbox_server, redis_conn, monkeypatch, browser
):
    monkeypatch.setattr(rq, "connection", redis_conn)
    kit = make_kit(
        app, sandbox_server, None, redis_conn, live_server, monkeypatch, public_url=live_server
    )
    kit.client.v1.prices.create(
        {"currency": "eur", "unit_amount": 2750, "product_data": {"name": "Moka pot"}}
    )
    shopper = abandon_in_shop(
        browser, f"{sandbox_server.base}/shop/{kit.account}", "ola@example.com"
    )
    kit.settle()

    merchant, recovery_link = _merchant_finds_the_recovery_link_in_the_outbox(browser, live_server)

    shopper.goto(recovery_link)  # the portal records the click and hands over to Stripe
    assert "/c/pay/cs_live_" in shopper.url and shopper.get_by_text("Moka pot").count() == 1
    shopper.get_by_label("Email").fill("ola@example.com")
    shopper.get_by_role("button", name=re.compile("^Pay")).click()
    kit.settle()

    merchant.get_by_role("link", name="Carts").click()
    row = merchant.get_by_role("row").filter(has_text="ola@example.com")
    assert row.locator(".badge").inner_text() == "Recovered"
    assert "Emailed, then bought" in row.inner_text() and "€27.50" in row.inner_text()
    shoot(merchant, "carts")

    _merchant_follows_the_dashboard_to_the_carts_story(merchant)
