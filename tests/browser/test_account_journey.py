"""A merchant signs up, logs out and logs back in, in headless Chromium."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts"))


def test_sign_up_log_out_log_in(live_server, page):
    page.goto(f"{live_server}/")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Business name").fill("Lumen Candles")
    page.get_by_label("Your name").fill("Lu")
    page.get_by_label("Work email").fill("lu@example.com")
    page.get_by_label("Password", exact=True).fill("candles and wicks")
    page.get_by_label("Repeat password").fill("candles and wicks")
    page.get_by_role("button", name="Create account").click()

    page.get_by_role("heading", name="Lumen Candles").wait_for()
    assert page.locator("li.step").count() == 6 and page.locator("li.step.done").count() == 0
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "home.png"), full_page=True)

    page.get_by_role("button", name="Log out").click()
    page.get_by_text("You are logged out.").wait_for()

    page.get_by_label("Email").fill("lu@example.com")
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Log in").click()
    page.get_by_text("Wrong email or password.").wait_for()

    page.get_by_label("Password").fill("candles and wicks")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Lumen Candles").wait_for()
    assert page.url == f"{live_server}/"


def test_a_business_name_of_one_long_word_wraps_in_the_bar_at_every_width(live_server, page):
    name = "Harbor" + "Tea" * 35  # 111 letters without a space
    page.goto(f"{live_server}/signup")
    page.get_by_label("Business name").fill(name)
    page.get_by_label("Work email").fill("long@example.com")
    page.get_by_label("Password", exact=True).fill("candles and wicks")
    page.get_by_label("Repeat password").fill("candles and wicks")
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name=name).wait_for()
    log_out = page.get_by_role("button", name="Log out")
    for width in (375, 700, 900, 1280):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth") <= width, width
        box = log_out.bounding_box()  # on one line, and in sight
        assert box["x"] + box["width"] <= width and box["height"] < 30, (width, box)
