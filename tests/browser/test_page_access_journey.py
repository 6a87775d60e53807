"""Pages a merchant taps and tabs through, in headless Chromium: at 375 px the links of the
home checklist, the dashboard's figure names, the editor's "Insert placeholder" openers and the
rows of its versions are big enough to tap; a placeholder chosen after Tab into a field joins
its text rather than replacing it; and without JavaScript the placeholders are text to type."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

import stripe_events as se
from factories import PASSWORD, make_connected
from portal.services import events
import screens

pytestmark = pytest.mark.browser
ACCT = "acct_1PageAccessMerchant1"
TAP = 44  # CSS px: WCAG 2.5.5's size, where 2.5.8 asks for at least 24


@pytest.fixture
def portal(app, client, live_server) -> str:
    """A connected merchant with one expired cart, so the dashboard shows its figures."""
    make_connected(ACCT, name="Bean Shop", email="owner@bean.example")
    assert se.post(client, se.expired("cs_live_access", ACCT)).status_code == 200
    events.drain()
    return live_server


def _sign_in(page, base: str) -> None:
    screens.sign_in(page, base, "owner@bean.example", PASSWORD, "Bean Shop")


def _size(locator) -> tuple[float, float]:
    box = locator.bounding_box()
    return box["width"], box["height"]


def _save_headline(page, base: str, text: str) -> None:
    page.goto(f"{base}/email/1")
    page.get_by_label("Headline").fill(text)
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved as version")).to_be_visible()


@pytest.fixture
def phone(portal, page):
    """The page, signed in, 375 px wide."""
    _sign_in(page, portal)
    page.set_viewport_size({"width": 375, "height": 800})
    return page


def test_the_checklists_to_do_link_is_big_enough_to_tap(portal, phone):
    to_do = phone.locator(".step .state a").first
    expect(to_do).to_have_text("To do")
    width, height = _size(to_do)
    assert width >= 24 and height >= TAP, (width, height)


def test_the_dashboards_figure_names_are_big_enough_to_tap(portal, phone):
    phone.goto(f"{portal}/dashboard")
    labels = phone.locator(".dashboard-figures dt a")
    assert labels.count() >= 4
    for label in labels.all():
        assert _size(label)[1] >= TAP, label.text_content()


def test_the_insert_placeholder_openers_are_big_enough_to_tap(portal, phone):
    phone.goto(f"{portal}/email/1")
    openers = phone.locator(".placeholder-menu summary")
    assert openers.count() == 6
    for opener in openers.all():
        assert _size(opener)[1] >= TAP


def test_an_older_version_opens_wherever_its_row_is_tapped(portal, phone):
    _save_headline(phone, portal, "Fresh beans")
    _save_headline(phone, portal, "Fresh beans, still here")
    # Not only on its one-digit number: on its date, say, at the row's other end.
    row = phone.locator("#versions tbody tr").filter(has=phone.get_by_label("Open version 1"))
    row.scroll_into_view_if_needed()
    saved = row.locator("td.when").bounding_box()
    phone.mouse.click(saved["x"] + saved["width"] / 2, saved["y"] + saved["height"] / 2)
    expect(phone).to_have_url(f"{portal}/email/1?version=1")
    expect(phone.get_by_text("You are looking at version 1")).to_be_visible()
    assert phone.evaluate("document.documentElement.scrollWidth") == 375


def test_a_placeholder_after_tab_into_a_field_joins_its_text(portal, page):
    _sign_in(page, portal)
    page.goto(f"{portal}/email/1")
    subject = page.get_by_label("Subject")
    before = subject.input_value()
    assert before
    page.locator(".lede a", has_text="Sending settings").focus()
    page.keyboard.press("Tab")  # into Subject: Chromium selects all its text
    assert subject.evaluate("e => [e.selectionStart, e.selectionEnd]") == [0, len(before)]
    page.keyboard.press("Tab")
    expect(page.locator(".field", has=subject).locator("summary")).to_be_focused()
    page.keyboard.press("Enter")
    menu = page.locator(".field", has=subject)
    menu.get_by_role("button", name="{cart_total}").focus()
    page.keyboard.press("Enter")
    assert subject.input_value() == f"{before} {{cart_total}}"
    assert subject.evaluate("e => e.selectionStart") == len(before) + len(" {cart_total}")

    # A cursor put in the text still takes the placeholder where it is.
    headline = page.get_by_label("Headline")
    headline.fill("Fresh beans")
    headline.press("Home")
    headline_field = page.locator(".field", has=headline)
    headline_field.get_by_text("Insert placeholder").click()
    headline_field.get_by_role("button", name="{merchant_name}").click()
    assert headline.input_value() == "{merchant_name}Fresh beans"


def test_a_placeholder_after_tab_into_a_text_area_goes_at_its_end(portal, page):
    """Tab into a text area puts its cursor at the start, selecting nothing."""
    _sign_in(page, portal)
    page.goto(f"{portal}/email/1")
    body = page.get_by_label("Body")
    before = body.input_value()
    page.get_by_label("Headline").focus()
    while not body.evaluate("e => e === document.activeElement"):
        page.keyboard.press("Tab")
    assert body.evaluate("e => [e.selectionStart, e.selectionEnd]") == [0, 0]
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")  # opens the body's "Insert placeholder"
    page.locator(".field", has=body).get_by_role("button", name="{cart_total}").focus()
    page.keyboard.press("Enter")
    assert before and not before[-1].isspace()
    assert body.input_value() == f"{before} {{cart_total}}"


def test_without_javascript_placeholders_are_text_to_type(browser, portal):
    context = browser.new_context(
        viewport={"width": 375, "height": 800}, java_script_enabled=False
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    try:
        _sign_in(page, portal)
        page.goto(f"{portal}/email/1")
        field = page.locator(".field", has=page.get_by_label("Subject"))
        field.locator("summary").click()
        expect(field.get_by_text("Type one as shown")).to_be_visible()
        expect(field.locator("button.placeholder")).to_have_count(5)
        for button in field.locator("button.placeholder").all():
            expect(button).to_be_hidden()
        typed = field.locator("code.placeholder-text", has_text="{cart_total}")
        expect(typed).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth") == 375
    finally:
        context.close()

    # With JavaScript, the buttons are back and the plain text goes.
    context = browser.new_context(viewport={"width": 375, "height": 800})
    page = context.new_page()
    try:
        _sign_in(page, portal)
        page.goto(f"{portal}/email/1")
        field = page.locator(".field", has=page.get_by_label("Subject"))
        field.locator("summary").click()
        expect(field.get_by_role("button", name="{cart_total}")).to_be_visible()
        expect(field.locator("code.placeholder-text").first).to_be_hidden()
    finally:
        context.close()
