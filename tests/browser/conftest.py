"""Browser fixtures: a page of the shared Chromium (tests/conftest.py's `browser`). Every page
of a journey is also held to the portal's Content-Security-Policy: a script, style or image the
policy blocks (the page then half works) fails the test."""

from __future__ import annotations

import pytest


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    blocked = []
    page.on(
        "console",
        lambda message: (
            blocked.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page
    context.close()
    assert blocked == [], blocked
