"""The Verify now button on the sending domain page against a loopback DNS server, breaks, and removal."""

from __future__ import annotations

import re

import pytest
from dns_server import dns_server_fixture  # noqa: F401  (the `dns_server` fixture)

from helpers import post_form

from portal.models import SendingDomain
from portal.services import domains
from portal.web.filters import when
from domain_page_kit import SPF, add, stored


OTHER_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAotherkeyotherkey"


@pytest.fixture
def resolver(app, dns_server, monkeypatch):
    """The loopback DNS server, as the portal's resolver."""
    monkeypatch.setitem(app.config, "DNS_RESOLVER", dns_server.address)
    return dns_server


def publish(server, row, dkim_value=None):
    server.set_txt(f"{row.selector}._domainkey.{row.domain}", dkim_value or dkim_record(row))
    server.set_txt(row.domain, f"v=spf1 include:{SPF} ~all")
    server.set_txt(f"_dmarc.{row.domain}", "v=DMARC1; p=none;")


def dkim_record(row) -> str:
    return f"v=DKIM1; k=rsa; p={row.public_key}"


def verify(client):
    return post_form(client, "/domain/verify", {}, page="/domain", follow_redirects=True)


# Verify now, against a real DNS server


def test_verify_now_moves_a_published_domain_to_verified(owner, client, db, resolver):
    add(client, "shop.example")
    [row] = stored(db)
    publish(resolver, row)
    html = verify(client).get_data(as_text=True)
    assert "Verified: emails go from hello@shop.example, signed with DKIM." in html
    assert html.count('data-state="ok">Found and right</span>') == 3
    [row] = stored(db)
    assert row.status == "verified" and row.checked_at is not None
    home = client.get("/").get_data(as_text=True)
    assert re.search(r'class="step done" data-step="domain"', home)


def test_verify_now_says_which_record_is_missing(owner, client, db, resolver):
    add(client, "shop.example")
    [row] = stored(db)
    html = verify(client).get_data(as_text=True)
    host = f"{row.selector}._domainkey.shop.example"
    assert f"Still waiting: the DKIM record at {host} was not found. See below." in html
    assert html.count('data-state="missing">Not found</span>') == 3
    assert (
        'Not found</span>. <span class="check-message">We suggest publishing v=DMARC1; p=none;'
        in html
    )
    assert stored(db)[0].status == "pending"


def test_verify_now_shows_a_wrong_record_and_what_was_found(owner, client, db, resolver):
    add(client, "shop.example")
    [row] = stored(db)
    publish(resolver, row, dkim_value=f"v=DKIM1; k=rsa; p={OTHER_KEY}")
    resolver.set_txt("shop.example", "v=spf1 mx -all")
    html = verify(client).get_data(as_text=True)
    assert "holds another key" in html
    assert html.count(">Found, but not right</span>") == 2
    assert "What DNS holds there now:" in html
    assert f'<code class="dns-value">v=DKIM1; k=rsa; p={OTHER_KEY}</code>' in html
    assert f"add include:{SPF} to it" in html
    assert '-value">v=spf1 include:_spf.portal.example mx -all</code>' in html  # extended
    assert stored(db)[0].status == "pending"


def test_verify_now_when_dns_does_not_answer_changes_nothing(owner, client, db, resolver):
    add(client, "shop.example")
    resolver.servfail = True
    html = verify(client).get_data(as_text=True)
    assert "DNS did not answer in time: nothing changed." in html
    assert stored(db)[0].status == "pending"


def test_a_record_that_breaks_is_said_on_the_page(owner, client, db, resolver):
    add(client, "shop.example")
    [row] = stored(db)
    publish(resolver, row)
    verify(client)
    resolver.clear_txt(f"{row.selector}._domainkey.shop.example")
    html = verify(client).get_data(as_text=True)
    assert "Not working any more: the DKIM record at" in html
    fallback = "emails go from no-reply@localhost with replies going to hello@shop.example until"
    assert fallback in html
    [row] = stored(db)
    assert row.status == "failing"
    with client.application.test_request_context():
        broke_on = when(row.failing_since)
    assert f"<strong>Not working:</strong> the DKIM record broke on {broke_on}." in html
    assert 'data-step="domain"' in client.get("/").get_data(as_text=True)
    assert 'class="step done" data-step="domain"' not in client.get("/").get_data(as_text=True)


# Removal


def test_remove_deletes_the_domain(owner, client, db):
    add(client, "shop.example")
    response = post_form(client, "/domain/remove", {}, page="/domain", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "shop.example removed: emails go from no-reply@localhost again." in html
    assert "Add the domain" in html and stored(db) == []


def test_an_spf_record_with_our_include_is_not_asked_to_change():
    found = {"kind": "spf", "state": "ok", "message": "", "found": [f"v=spf1 include:{SPF} ~all"]}
    row = SendingDomain(
        domain="shop.example", selector="cr202612a7f3", public_key="MIIBkey", checks={"spf": found}
    )
    spf = domains.records(row, SPF)[1]
    assert spf.value == f"v=spf1 include:{SPF} ~all"
    assert "adds" not in spf.explanation
