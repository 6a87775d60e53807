"""The sending domain page (SPEC 4): adding a domain (IDNs stored as A-labels, shown in their
own letters), every bad input refused beside its field with nothing stored, the exact records
to publish, "Verify now" against a real DNS server on loopback, removal, members reading only,
other merchants seeing nothing of it, and CSRF on every form."""

from __future__ import annotations

import re

import pytest
from dns_server import dns_server_fixture  # noqa: F401  (the `dns_server` fixture)
from factories import PASSWORD, make_member, make_owner
from helpers import csrf_token, post_form
from markupsafe import escape
from sqlalchemy import select

from portal.models import SendingDomain
from portal.services import domains
from portal.services.domains import DomainError
from portal.web.filters import when

SPF = "_spf.portal.example"
OTHER_KEY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAotherkeyotherkey"


@pytest.fixture
def owner(app, db, client, login, monkeypatch):
    """A signed-in owner, with the operator's SPF include configured."""
    monkeypatch.setitem(app.config, "SPF_INCLUDE", SPF)
    user = make_owner("Bean Shop", "owner@bean.example")
    login(client, "owner@bean.example", PASSWORD)
    return user


@pytest.fixture
def resolver(app, dns_server, monkeypatch):
    """The loopback DNS server, as the portal's resolver."""
    monkeypatch.setitem(app.config, "DNS_RESOLVER", dns_server.address)
    return dns_server


def page(client) -> str:
    response = client.get("/domain")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def stored(db) -> list[SendingDomain]:
    db.expire_all()
    return db.scalars(select(SendingDomain)).all()


def add(client, domain: str, local_part: str = "hello"):
    return post_form(client, "/domain", {"domain": domain, "local_part": local_part})


def field_html(html: str, name: str) -> str:
    """The markup of the form field `name`: its label, control, errors and hint."""
    pattern = rf'<div class="field[^"]*">\s*<label for="{name}".*?id="{name}-hint"'
    match = re.search(pattern, html, re.S)
    assert match, f"no field {name}"
    return match.group()


def publish(server, row, dkim_value=None):
    server.set_txt(f"{row.selector}._domainkey.{row.domain}", dkim_value or dkim_record(row))
    server.set_txt(row.domain, f"v=spf1 include:{SPF} ~all")
    server.set_txt(f"_dmarc.{row.domain}", "v=DMARC1; p=none;")


def dkim_record(row) -> str:
    return f"v=DKIM1; k=rsa; p={row.public_key}"


def verify(client):
    return post_form(client, "/domain/verify", {}, page="/domain", follow_redirects=True)


# Adding a domain


def test_without_a_domain_the_page_explains_why_and_offers_the_form(owner, client):
    html = page(client)
    assert "Gmail and Yahoo" in html and "SPF, DKIM and DMARC" in html
    assert 'emails go from <strong class="address">no-reply@localhost</strong>' in html
    assert 'id="domain"' in html and 'value="hello"' in field_html(html, "local_part")


def test_an_owner_adds_a_domain_and_sees_the_exact_records(owner, client, db):
    response = add(client, "  Shop.Example ")
    assert response.status_code == 302 and response.location == "/domain"
    [row] = stored(db)
    assert (row.merchant_id, row.domain, row.local_part) == (
        owner.merchant_id,
        "shop.example",
        "hello",
    )
    html = page(client)
    assert "shop.example added: publish the records below." in html
    assert "Waiting for DNS records" in html and "hello@shop.example" in html
    values = re.findall(r'<code class="dns-value" id="record-(\w+)-(\w+)">([^<]*)</code>', html)
    assert values == [
        ("dkim", "host", f"{row.selector}._domainkey.shop.example"),
        ("dkim", "value", f"v=DKIM1; k=rsa; p={row.public_key}"),
        ("spf", "host", "shop.example"),
        ("spf", "value", f"v=spf1 include:{SPF} ~all"),
        ("dmarc", "host", "_dmarc.shop.example"),
        ("dmarc", "value", "v=DMARC1; p=none;"),
    ]
    assert len(row.public_key) > 350  # the 2048-bit key's p=, shown whole
    assert html.count("Not checked yet") == 3 and html.count('data-copy="record-') == 6


def test_an_idn_is_stored_as_a_labels_and_shown_in_its_own_letters(owner, client, db):
    assert add(client, "Bücher.example", "verkauf").status_code == 302
    [row] = stored(db)
    assert row.domain == "xn--bcher-kva.example"
    html = page(client)
    assert '<h2 id="status-title">bücher.example' in html
    assert "verkauf@bücher.example" in html and "(verkauf@xn--bcher-kva.example)" in html
    assert f'-host">{row.selector}._domainkey.xn--bcher-kva.example</code>' in html
    assert f"own letters: {row.selector}._domainkey.bücher.example" in html
    assert 'value="bücher.example"' in field_html(html, "domain")  # the form offers a change


def test_a_new_domain_replaces_the_old_one(owner, client, db):
    add(client, "shop.example")
    [old] = stored(db)
    old_selector = old.selector
    assert add(client, "mail.shop.example", "news").status_code == 302
    [row] = stored(db)
    assert (row.domain, row.local_part) == ("mail.shop.example", "news")
    assert row.selector != old_selector


BAD_DOMAINS = [
    ("", "Enter a domain"),
    ("a" * 10_000, None),
    ("shop\x00.example", "letters, digits, hyphens and dots"),
    ("shop\x1b.example", "letters, digits, hyphens and dots"),
    ("shop\n.example", "letters, digits, hyphens and dots"),
    ("ftp://x.com/cart", "without https://"),
    ("a@b.com", "only the part after the @"),
    ("localhost", "localhost cannot send email"),
    ("xn--", "hyphen"),
    ("xn--zz.example", "not a valid part"),
    ("shop", "full domain"),
    ("192.0.2.1", "not an IP address"),
    ("🙂.example", "not a valid part"),
    ("a" * 64 + ".example", "63 characters"),
]


@pytest.mark.parametrize("typed, says", BAD_DOMAINS, ids=[repr(t)[:24] for t, _ in BAD_DOMAINS])
def test_a_bad_domain_is_refused_beside_its_field_and_nothing_is_stored(
    owner, client, db, typed, says
):
    response = add(client, typed)
    assert response.status_code == 400
    field = field_html(response.get_data(as_text=True), "domain")
    [error] = re.findall(r'<p class="error">([^<]+)</p>', field)
    if says is not None:
        assert says in error
    with pytest.raises(DomainError) as expected:
        domains.normalize(typed, platform_domain="localhost")
    assert error == escape(str(expected.value))
    assert 'aria-invalid="true"' in field
    assert stored(db) == []


@pytest.mark.parametrize("local_part", ["", "a b", ".hello", "x" * 65, "hé", "he\x00llo", "a@b"])
def test_a_bad_from_local_part_is_refused_beside_its_field(owner, client, db, local_part):
    response = add(client, "shop.example", local_part)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "before the @" in field_html(html, "local_part")
    assert '<p class="error">' not in field_html(html, "domain")
    assert stored(db) == []


def test_a_post_without_its_fields_is_refused_in_words(owner, client, db):
    response = post_form(client, "/domain", {}, page="/domain")
    assert response.status_code == 400
    assert "Enter a domain" in field_html(response.get_data(as_text=True), "domain")
    assert stored(db) == []


def test_without_an_operator_spf_include_there_is_no_spf_value_to_copy(
    owner, app, client, monkeypatch
):
    monkeypatch.setitem(app.config, "SPF_INCLUDE", "")
    add(client, "shop.example")
    html = page(client)
    assert 'id="record-spf-value"' not in html and 'id="record-spf-host"' not in html
    assert "<dt>To add</dt><dd>Nothing</dd>" in html
    assert "Not needed: your emails pass DMARC through DKIM" in html
    assert 'id="record-dkim-value"' in html and 'id="record-dmarc-value"' in html


def test_a_bad_replacement_leaves_the_domain_as_it_was(owner, client, db):
    add(client, "shop.example")
    [row] = stored(db)
    before = (row.id, row.selector, row.public_key)
    response = add(client, "other.example:8080")
    assert response.status_code == 400
    assert '<details class="domain-change" open>' in response.get_data(as_text=True)
    [row] = stored(db)
    assert (row.id, row.selector, row.public_key) == before


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


# Removal, members, other merchants, CSRF


def test_remove_deletes_the_domain(owner, client, db):
    add(client, "shop.example")
    response = post_form(client, "/domain/remove", {}, page="/domain", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert "shop.example removed: emails go from no-reply@localhost again." in html
    assert "Add the domain" in html and stored(db) == []


def test_a_member_sees_the_page_but_cannot_change_it(owner, app, client, db, login):
    add(client, "shop.example")
    member = make_member(owner.merchant_id, "member@bean.example")
    member_client = app.test_client()
    login(member_client, member.email, PASSWORD)
    html = page(member_client)
    assert "Only the account’s owner can add, verify or remove" in html
    assert "shop.example" in html and 'id="record-dkim-value"' in html
    assert "Verify now" not in html and "Remove shop.example" not in html
    for path, data in [
        ("/domain", {"domain": "other.example", "local_part": "hello"}),
        ("/domain/verify", {}),
        ("/domain/remove", {}),
    ]:
        assert post_form(member_client, path, data, page="/domain").status_code == 403
    [row] = stored(db)
    assert (row.domain, row.status) == ("shop.example", "pending")
    assert app.test_client().get("/domain").status_code == 302  # signed out: the login page


def test_another_merchant_sees_nothing_of_this_domain(owner, app, client, db, login):
    add(client, "beanery.example")
    [row] = stored(db)
    make_owner("Other Shop", "other@shop.example")
    other = app.test_client()
    login(other, "other@shop.example", PASSWORD)
    html = page(other)
    assert "beanery" not in html
    assert row.selector not in html and row.public_key[:40] not in html
    assert "Add the domain" in html
    verified = post_form(other, "/domain/verify", {}, page="/domain", follow_redirects=True)
    assert "There is no domain to verify" in verified.get_data(as_text=True)
    assert post_form(other, "/domain/remove", {}, page="/domain").status_code == 302
    assert [r.id for r in stored(db)] == [row.id]


def test_every_form_needs_the_csrf_token(owner, client, db):
    assert client.post("/domain", data={"domain": "shop.example"}).status_code == 400
    assert stored(db) == []
    add(client, "shop.example")
    for path in ("/domain/verify", "/domain/remove"):
        response = client.post(path, data={"csrf_token": "forged"})
        assert response.status_code == 400, path
    [row] = stored(db)
    assert row.checked_at is None


def test_the_home_page_links_the_step(owner, client):
    home = client.get("/").get_data(as_text=True)
    step = re.search(r'data-step="domain">(.*?)</li>', home, re.S).group(1)
    assert '<a href="/domain">Add a custom sending domain</a>' in step
    assert csrf_token(client, "/domain")


# The service's words for two cases the page relies on


def test_a_very_long_domain_is_told_it_is_too_long():
    with pytest.raises(DomainError, match="253 characters"):
        domains.normalize("a" * 10_000, platform_domain="portal.example")


def test_an_spf_record_with_our_include_is_not_asked_to_change():
    found = {"kind": "spf", "state": "ok", "message": "", "found": [f"v=spf1 include:{SPF} ~all"]}
    row = SendingDomain(
        domain="shop.example", selector="cr202612a7f3", public_key="MIIBkey", checks={"spf": found}
    )
    spf = domains.records(row, SPF)[1]
    assert spf.value == f"v=spf1 include:{SPF} ~all"
    assert "adds" not in spf.explanation
