"""Adding a sending domain on its page: IDNs, the exact records, bad input refused beside its field."""

from __future__ import annotations

import re

import pytest

from helpers import post_form
from markupsafe import escape

from portal.services import domains
from portal.services.domains import DomainError
from domain_page_kit import SPF, add, page, stored


def field_html(html: str, name: str) -> str:
    """The markup of the form field `name`: its label, control, errors and hint."""
    pattern = rf'<div class="field[^"]*">\s*<label for="{name}".*?id="{name}-hint"'
    match = re.search(pattern, html, re.S)
    assert match, f"no field {name}"
    return match.group()


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
    assert "the domain of" not in html  # typed as it is, up to case and spaces
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
    # The same domain, another From address: the records to publish stay as they were.
    assert add(client, "shop.example", local_part="orders").status_code == 302
    html = page(client)
    assert "Emails now go from orders@shop.example: the domain&#39;s records stay as they" in html
    assert f"{row.selector}._domainkey.shop.example" in html and "added: publish" not in html


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
    ("localhost", "localhost cannot be reached from the internet"),
    ("xn--", "hyphen"),
    ("xn--zz.example", "not a valid part"),
    ("shop", "full domain"),
    ("192.0.2.1", "not an IP address"),
    ("🙂.example", "not a valid part"),
    ("a" * 64 + ".example", "63 characters"),
    ("gmail.com", "a mailbox provider"),
    ("Outlook.com", "a mailbox provider"),
    ("localhost.localdomain", "cannot be reached from the internet"),
    ("printer.local", "cannot be reached from the internet"),
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


# The service's words for two cases the page relies on


def test_a_very_long_domain_is_told_it_is_too_long():
    with pytest.raises(DomainError, match="253 characters"):
        domains.normalize("a" * 10_000, platform_domain="portal.example")


def test_a_domain_read_out_of_a_web_address_says_what_was_typed(owner, client, db):
    assert add(client, "https://www.Shop.example/cart").status_code == 302
    html = page(client)
    assert "shop.example added (the domain of “https://www.Shop.example/cart”)" in html


def test_an_invisible_character_typed_in_is_not_called_a_web_address(owner, client, db):
    assert add(client, "\u200bShop.example\u200b").status_code == 302
    html = page(client)
    assert "shop.example added: publish the records below." in html
    assert "the domain of" not in html


def test_new_domains_are_limited_per_hour_and_a_new_from_address_is_not(owner, client, db):
    from datetime import timedelta

    from sqlalchemy import select

    from portal.models import ThrottleHit

    for n in range(domains.NEW_KEYS_PER_HOUR):
        assert add(client, f"shop{n}.example").status_code == 302
    refused = add(client, "one-more.example")
    assert refused.status_code == 429
    error = field_html(refused.get_data(as_text=True), "domain")
    assert f"{domains.NEW_KEYS_PER_HOUR} were made in the last hour" in error
    last = f"shop{domains.NEW_KEYS_PER_HOUR - 1}.example"
    assert [row.domain for row in stored(db)] == [last]
    assert add(client, last, "orders").status_code == 302  # the same key: not counted
    assert [(row.domain, row.local_part) for row in stored(db)] == [(last, "orders")]
    for hit in db.scalars(select(ThrottleHit)):  # an hour passes
        hit.at -= timedelta(minutes=61)
    db.commit()
    assert add(client, "one-more.example").status_code == 302
    assert [row.domain for row in stored(db)] == ["one-more.example"]


def test_a_pasted_address_with_a_password_is_not_repeated_in_the_confirmation(owner, client):
    assert add(client, "https://user:secret@Shop2.example:8443/path?q=1").status_code == 302
    html = page(client)
    assert "shop2.example added (the domain of “https://Shop2.example:8443/path?q=1”)" in html
    assert "secret" not in html and "user:" not in html


def test_a_refused_address_with_a_password_comes_back_without_it(owner, client, db):
    response = add(client, "https://user:secret@printer.local/admin")
    html = response.get_data(as_text=True)
    assert response.status_code == 400 and "printer.local cannot be reached" in html
    assert 'value="https://printer.local/admin"' in field_html(html, "domain")
    assert "secret" not in html and "user:" not in html and stored(db) == []
    html = add(client, "bob:hunter2@shop.example").get_data(as_text=True)  # no scheme
    assert "hunter2" not in html and 'value="shop.example"' in field_html(html, "domain")


def test_saving_the_same_domain_and_from_address_says_nothing_changed(owner, client, db):
    assert add(client, "shop.example", "hello").status_code == 302
    [before] = stored(db)
    assert add(client, "Shop.example", "hello").status_code == 302
    assert "Nothing changed: emails already go from hello@shop.example." in page(client)
    [after] = stored(db)
    assert (after.selector, after.local_part) == (before.selector, "hello")


@pytest.mark.parametrize("typed", ["https://\u200dshop.example/", "shop.loc\u200cal"])
def test_an_invisible_character_left_in_a_domain_is_named_not_hidden(owner, client, typed):
    answer = add(client, typed)
    assert answer.status_code == 400
    field = field_html(answer.get_data(as_text=True), "domain")
    [error] = re.findall(r'<p class="error">([^<]+)</p>', field)  # the value keeps what was typed
    assert "holds an invisible character" in error and error.isprintable()
