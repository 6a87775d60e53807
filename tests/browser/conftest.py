"""Browser fixtures: a page of the shared Chromium (tests/conftest.py's `browser`)."""

from __future__ import annotations

import pytest


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1200, "height": 800})
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()
