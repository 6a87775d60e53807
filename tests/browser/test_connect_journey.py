"""Connecting Stripe in headless Chromium, on the sandbox's own authorize page; and a merchant's
first day, from sign-up to the first recovery email in the outbox, with no CLI and no database."""

from __future__ import annotations

import re

import pytest
import requests
import stripe

from helpers import abandon_in_shop
from portal.extensions import rq
from recovery_kit import Kit
import screens

pytestmark = pytest.mark.browser
SAMPLES = ("Linen tote bag", "Hand-thrown mug", "Beeswax candle")


def _platform(sandbox) -> stripe.StripeClient:
    return stripe.StripeClient(
        sandbox.config["PLATFORM_SECRET_KEY"],
        base_addresses={"api": sandbox.base, "connect": sandbox.base},
    )


@pytest.fixture
def portal(app, live_server, sandbox_server, redis_conn, monkeypatch) -> str:
    """The portal on loopback, where the sandbox sends the browser back and its webhooks."""
    monkeypatch.setattr(rq, "connection", redis_conn)
    endpoint = _platform(sandbox_server).v1.webhook_endpoints.create(
        {"url": f"{live_server}/webhooks/stripe/connect", "connect": True, "enabled_events": ["*"]}
    )
    for name, value in {
        "STRIPE_CONNECT_WEBHOOK_SECRET": endpoint.secret,
        "PUBLIC_URL": live_server,
        "SMTP_URL": "",
    }.items():
        monkeypatch.setitem(app.config, name, value)
    return live_server


def _sign_up(page, base: str, business: str, email: str) -> None:
    page.goto(f"{base}/signup")
    page.get_by_label("Business name").fill(business)
    page.get_by_label("Your name").fill("Sam")
    page.get_by_label("Work email").fill(email)
    page.get_by_label("Password", exact=True).fill("candles and wicks")
    page.get_by_label("Repeat password").fill("candles and wicks")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name=business).wait_for()


def _connect_new(page, business: str) -> str:
    """From /connect, through the sandbox's authorize page: a new account with sample products;
    its id, as /connect shows it."""
    page.get_by_role("button", name="Connect with Stripe").click()
    page.get_by_label("Create a new account").check()
    page.get_by_label("Business name").fill(business)
    assert page.get_by_label("Add three sample products").is_checked()
    page.get_by_role("button", name="Connect", exact=True).click()
    page.get_by_text(f"Stripe is connected: {business}.").wait_for()
    return page.locator("#account-id").inner_text()


def _shoot(page, name: str) -> None:
    screens.shoot(page, f"connect-{name}", after_size=(1200, 800))


def test_connect_a_new_account_whose_shop_has_the_sample_products(portal, sandbox_server, page):
    _sign_up(page, portal, "Lumen Candles", "lu@example.com")
    page.goto(f"{portal}/connect")
    page.get_by_text("Stripe is not connected").wait_for()
    _shoot(page, "not-connected")
    account_id = _connect_new(page, "Lumen Sandbox")
    assert page.url == f"{portal}/connect" and page.locator("#account-mode").inner_text() == "Live"
    assert page.locator("#account-name").inner_text() == "Lumen Sandbox"
    _shoot(page, "connected-oauth")
    page.goto(f"{sandbox_server.base}/shop/{account_id}")
    for name in SAMPLES:
        assert page.get_by_text(name).count() == 1


def test_connect_an_existing_account_then_disconnect_and_deny(portal, sandbox_server, page):
    account_id = (
        _platform(sandbox_server)
        .v1.accounts.create({"type": "standard", "business_profile": {"name": "Harbour Books"}})
        .id
    )
    _sign_up(page, portal, "Harbour", "hb@example.com")
    page.goto(f"{portal}/connect")
    page.get_by_role("button", name="Connect with Stripe").click()
    page.get_by_label(re.compile(f"Harbour Books {account_id}")).check()
    page.get_by_role("button", name="Connect", exact=True).click()
    page.get_by_text("Stripe is connected: Harbour Books.").wait_for()
    assert page.locator("#account-id").inner_text() == account_id

    page.get_by_text("Disconnect Stripe", exact=True).click()  # asks first
    page.get_by_role("button", name="Yes, disconnect Stripe").click()
    page.get_by_text("Stripe is disconnected").wait_for()
    page.get_by_role("button", name="Connect with Stripe").click()
    page.get_by_role("button", name="Deny").click()
    page.get_by_text("You cancelled connecting Stripe. Nothing was saved.").wait_for()
    assert page.get_by_text("Stripe is not connected").count() == 1
    assert page.locator("#account-id").count() == 0


def test_direct_mode_refuses_beside_the_fields_then_connects(portal, sandbox_server, page):
    account_id = (
        _platform(sandbox_server)
        .v1.accounts.create({"type": "standard", "business_profile": {"name": "Own Key Co"}})
        .id
    )
    keys = requests.get(
        f"{sandbox_server.base}/_sandbox/accounts/{account_id}?format=json", timeout=5
    ).json()["keys"]
    _sign_up(page, portal, "Own Key", "ok@example.com")
    page.goto(f"{portal}/connect")
    page.get_by_text("Self-hosting? Use your own restricted key instead").click()
    page.get_by_label("Restricted API key").fill("pk_live_notarestrictedkey")
    page.get_by_label("Webhook signing secret").fill("nope")
    page.get_by_role("button", name="Check and save").click()
    page.get_by_text("This is a publishable key").wait_for()
    assert page.get_by_text("A webhook signing secret starts with whsec_.").count() == 1
    _shoot(page, "direct-errors")

    page.get_by_label("Restricted API key").fill(keys["rk_live"])
    page.get_by_label("Webhook signing secret").fill("whsec_ownkeysecret0001")
    page.get_by_role("button", name="Check and save").click()
    page.get_by_text("Stripe is connected with your own key: Own Key Co.").wait_for()
    assert keys["rk_live"] not in page.content()
    assert (
        page.locator("#webhook-url").inner_text().startswith(f"{portal}/webhooks/stripe/direct/")
    )
    assert page.locator('button[data-copy="webhook-url"]').is_visible()  # one tap on a phone
    _shoot(page, "connected-direct")


def test_from_sign_up_to_the_first_recovery_email(
    app, portal, sandbox_server, redis_conn, page, browser
):
    _sign_up(page, portal, "Juniper Tea", "juniper@example.com")
    page.get_by_role("link", name="Connect Stripe").first.click()
    account_id = _connect_new(page, "Juniper Tea Shop")

    page.goto(f"{portal}/terms")
    page.get_by_role("button", name="Accept these terms").click()
    page.get_by_text("You accepted the terms of").wait_for()
    page.goto(f"{portal}/settings")
    assert page.get_by_label("Sender name").input_value() == "Juniper Tea Shop"
    page.get_by_label("Postal address").fill("Juniper Tea\n4 Mill Road\nLeeds")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings saved.").wait_for()
    page.get_by_role("button", name="Turn recovery emails on").click()
    page.get_by_text("Recovery emails are on.").wait_for()

    abandon_in_shop(browser, f"{sandbox_server.base}/shop/{account_id}", "rowan@example.com")
    Kit(app, sandbox_server, None, redis_conn, account_id, 0).settle()

    page.get_by_role("link", name="Outbox").click()
    row = page.get_by_role("row").filter(has_text="rowan@example.com")
    assert row.count() == 1 and "Juniper Tea" in row.inner_text()
    row.get_by_role("link").click()
    email = page.frame_locator("iframe")
    email.get_by_role("link", name="Return to your cart").wait_for()
    text = email.locator("body").inner_text()
    assert any(name in text for name in SAMPLES)  # the cart's line item, from the account


def test_sign_up_takes_the_browsers_time_zone(portal, browser):
    context = browser.new_context(timezone_id="America/Sao_Paulo")
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        _sign_up(page, portal, "Zone Shop", "zone@example.com")
        page.goto(f"{portal}/settings")
        assert page.locator("#timezone").input_value() == "America/Sao_Paulo"
    finally:
        context.close()
