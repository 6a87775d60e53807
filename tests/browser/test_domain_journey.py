"""The sending domain page in headless Chromium: an owner enters a domain, sees its three
records, copies the DKIM value to the clipboard, publishes the records in a real DNS server on
loopback, clicks "Verify now" and sees it verified; the page fits 1280 and 375 px (the DKIM
value, some 400 characters without a space, wraps) and works without JavaScript."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from dns_server import dns_server_fixture  # noqa: F401  (the `dns_server` fixture)
from factories import PASSWORD, make_owner
from portal import db
from portal.models import SendingDomain
import screens

pytestmark = pytest.mark.browser
SPF = "_spf.portal.example"


@pytest.fixture
def portal(app, live_server, dns_server, monkeypatch) -> str:
    """The portal on loopback, asking the loopback DNS server."""
    monkeypatch.setitem(app.config, "DNS_RESOLVER", dns_server.address)
    monkeypatch.setitem(app.config, "SPF_INCLUDE", SPF)
    make_owner("Bean Shop", "owner@bean.example")
    return live_server


@pytest.fixture
def page(browser, portal):
    """A page allowed to read and write the clipboard (to check what "Copy" put there)."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 900},
        permissions=["clipboard-read", "clipboard-write"],
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _sign_in(page, base: str) -> None:
    screens.sign_in(page, base, "owner@bean.example", PASSWORD, "Bean Shop")


def _shoot(page, name: str) -> None:
    screens.shoot(page, f"domain-{name}")


def _stored() -> SendingDomain:
    db.session.remove()  # a fresh look at what the browser saved
    return db.session.scalars(select(SendingDomain)).one()


def _add_an_idn_after_a_refusal(page):
    """An address refused beside the field, then the IDN added and its three records shown."""
    page.get_by_label("Domain", exact=True).fill("ann@bücher.example")
    page.get_by_role("button", name="Add the domain").click()
    expect(page.locator(".field.has-error .error")).to_have_text(
        "Enter only the part after the @, for example shop.example."
    )
    _shoot(page, "refused")
    page.get_by_label("Domain", exact=True).fill("Bücher.example")
    page.get_by_role("button", name="Add the domain").click()
    expect(page.get_by_role("heading", name="bücher.example")).to_be_visible()
    row = _stored()
    assert row.domain == "xn--bcher-kva.example"
    records = page.locator(".dns-record")
    expect(records).to_have_count(3)
    expect(records.locator("h3")).to_have_text(
        ["DKIM required", "SPF recommended", "DMARC recommended"]
    )
    dkim_value = f"v=DKIM1; k=rsa; p={row.public_key}"
    expect(page.locator("#record-dkim-value")).to_have_text(dkim_value)
    expect(page.locator("#record-dkim-host")).to_have_text(
        f"{row.selector}._domainkey.xn--bcher-kva.example"
    )
    return row, records, dkim_value


def _publish_and_verify(page, portal: str, dns_server, row, dkim_value: str):
    """The three records published; "Verify now" verifies and the home page ticks the step."""
    dns_server.set_txt(f"{row.selector}._domainkey.{row.domain}", dkim_value)
    dns_server.set_txt(row.domain, f"v=spf1 include:{SPF} ~all")
    dns_server.set_txt(f"_dmarc.{row.domain}", "v=DMARC1; p=none;")
    page.get_by_role("button", name="Verify now").click()
    expect(page.locator(".flash-success")).to_have_text(
        "Verified: emails go from hello@bücher.example, signed with DKIM."
    )
    expect(page.locator(".domain-status .badge")).to_have_text("Verified")
    expect(page.locator('.check-state[data-state="ok"]')).to_have_count(3)
    assert _stored().status == "verified"
    _shoot(page, "verified")
    page.goto(portal)
    expect(page.locator('[data-step="domain"]')).to_have_class("step done")


def _break_the_dkim_record(page, portal: str, dns_server, row):
    """The DKIM record removed: "Verify now" says it stopped working and mail falls back."""
    dns_server.clear_txt(f"{row.selector}._domainkey.{row.domain}")  # the record breaks
    page.goto(f"{portal}/domain")
    page.get_by_role("button", name="Verify now").click()
    expect(page.locator(".flash-error").first).to_contain_text("Not working any more")
    expect(page.locator(".domain-status .badge")).to_have_text("Not working")
    expect(page.locator(".status-words")).to_contain_text("the DKIM record broke on")
    expect(page.locator(".status-words")).to_contain_text("Emails go from no-reply@localhost")
    _shoot(page, "failing")


def test_add_copy_publish_verify_and_break(portal, page, dns_server):
    _sign_in(page, portal)
    page.locator('[data-step="domain"]').get_by_role(
        "link", name="Add a custom sending domain"
    ).click()
    page.get_by_role("heading", name="Sending domain").wait_for()
    _shoot(page, "empty")

    row, records, dkim_value = _add_an_idn_after_a_refusal(page)

    dkim = records.filter(has=page.locator("#record-dkim-value"))
    dkim.get_by_role("button", name="Copy the DKIM value").click()
    expect(dkim.locator(".copy-status").last).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == dkim_value
    _shoot(page, "pending")

    _publish_and_verify(page, portal, dns_server, row, dkim_value)

    _break_the_dkim_record(page, portal, dns_server, row)


def test_wrong_records_and_removal_without_javascript(portal, browser, dns_server):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 375, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    _sign_in(page, portal)
    page.goto(f"{portal}/domain")
    page.get_by_label("Domain", exact=True).fill("shop.example")
    page.get_by_role("button", name="Add the domain").click()
    expect(page.get_by_role("button", name="Copy the DKIM value")).to_be_hidden()
    row = _stored()
    dns_server.set_txt(f"{row.selector}._domainkey.{row.domain}", "v=DKIM1; k=rsa; p=MIIBother")
    dns_server.set_txt(f"_dmarc.{row.domain}", "v=DMARC1; p=reject; aspf=s")
    page.get_by_role("button", name="Verify now").click()
    expect(page.locator(".flash")).to_contain_text("Still waiting: the DKIM record at")
    expect(page.locator('.check-state[data-state="wrong"]')).to_have_text("Found, but not right")
    expect(page.locator('.check-state[data-state="warning"]')).to_have_count(1)
    expect(page.locator("ul.found")).to_contain_text(["v=DKIM1; k=rsa; p=MIIBother"])
    _shoot(page, "wrong")

    page.get_by_text("Remove this domain").click()
    page.get_by_role("button", name="Remove shop.example").click()
    expect(page.locator(".flash")).to_have_text(
        "shop.example removed: emails go from no-reply@localhost again."
    )
    expect(page.get_by_role("button", name="Add the domain")).to_be_visible()
    db.session.remove()
    assert db.session.scalars(select(SendingDomain)).all() == []
    context.close()
