"""What every browser journey does on its pages: sign in, and take full-page screenshots at a
laptop's and a phone's width (into TEST_ARTIFACTS) after checking the page never scrolls
sideways, there and at a tablet's width (where tables no longer stack but are short of room)."""

from __future__ import annotations

import os
from pathlib import Path

ARTIFACTS = Path(os.environ.get("TEST_ARTIFACTS", "test-artifacts"))
WIDTHS = (1280, 375)
CHECKED_ONLY = (700,)  # no screenshot: the page must fit (tables stack only below 641 px)


def shoot(page, name: str, *, before=None, after_size=(1280, 900)) -> None:
    """`name`-1280.png and `name`-375.png; `before(page, width)` runs before each shot."""
    ARTIFACTS.mkdir(exist_ok=True)
    for width in CHECKED_ONLY:
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        assert page.evaluate("document.documentElement.scrollWidth") <= width, (name, width)
        if before is not None:
            before(page, width)
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": after_size[0], "height": after_size[1]})


def sign_in(page, base: str, email: str, password: str, heading: str) -> None:
    """Log in through the form and wait for the home page's `heading`."""
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name=heading).wait_for()
