"""Custom sending domains: the domain as typed, its sealed key and selector, and the records to publish."""

from __future__ import annotations

import base64
import re

import pytest
from cryptography.hazmat.primitives import serialization

from factories import make_owner
from portal import sealing
from portal.models import DomainStatus, Merchant, SendingDomain
from portal.services import domains, onboarding
from portal.services.domains import DomainError
from domains_kit import SPF


# The domain as typed


@pytest.fixture
def in_app(_app):
    """An app context: names kept for tests are judged by the app's environment."""
    with _app.app_context():
        yield


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("shop.example", "shop.example"),
        ("  Shop.Example.  ", "shop.example"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("BÜCHER。example", "xn--bcher-kva.example"),  # an ideographic full stop is a dot
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("mail.shop.co.uk", "mail.shop.co.uk"),
        ("a" * 63 + ".example", "a" * 63 + ".example"),
        # A shop's web address pasted whole: its host, without "www." (typed alone too).
        ("https://www.Beas-Bakery.example/", "beas-bakery.example"),
        ("HTTP://shop.example:8080/cart?x=1", "shop.example"),
        ("www.shop.example", "shop.example"),
        ("shop.example/", "shop.example"),
        ("WWW.shop.example/cart?x=1", "shop.example"),
        ("www.example", "www.example"),  # the domain itself, not a web server's name under it
    ],
)
def test_a_domain_is_stored_as_lower_case_a_labels(in_app, typed, stored):
    assert domains.normalize(typed, platform_domain="portal.example") == stored


@pytest.mark.parametrize(
    "typed, says",
    [
        ("", "Enter a domain"),
        ("   ", "Enter a domain"),
        ("ann@shop.example", "only the part after the @"),
        ("ftp://shop.example/cart", "without https://"),
        ("https://192.0.2.10", "not an IP address"),
        ("https://", "Enter a domain"),
        ("shop.example:443", "letters, digits"),
        ("shop", "full domain"),
        ("shop.c", "No domain ends in “.c”"),
        ("Shop.Example.C.", "No domain ends in “.c”"),
        ("shop.ü", "No domain ends in “.ü”"),
        ("shop.я", "No domain ends in “.я”"),
        ("a" * 64 + ".example", "63 characters"),
        (".".join(["abcdefghi"] * 26), "253 characters"),
        (".".join(["abcdefghi"] * 23) + ".example", "Use at most 229"),  # 238: no DKIM name
        ("192.0.2.10", "not an IP address"),
        ("[2001:db8::1]", "not an IP address"),
        ("10.1", "not an IP address"),
        ("-shop.example", "hyphen"),
        ("shop-.example", "hyphen"),
        ("sh_op.example", "letters, digits"),
        ("shop example", "letters, digits"),
        ("shop..example", "empty part"),
        ("localhost", "localhost"),
        ("mail.localhost", "localhost"),
        ("portal.example", "platform's own domain"),
        ("bounces.Portal.Example", "platform's own domain"),
    ],
)
def test_a_domain_that_cannot_send_is_refused_in_words(in_app, typed, says):
    with pytest.raises(DomainError, match=re.escape(says)):
        domains.normalize(typed, platform_domain="portal.example")


def test_the_platform_domain_comes_from_mail_from(app, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_FROM", "Cart Recovery <no-reply@Portal.Example>")
    with app.app_context(), pytest.raises(DomainError, match="platform's own"):
        domains.normalize("portal.example")


def test_an_idn_is_shown_in_its_own_letters():
    assert domains.display("xn--bcher-kva.example") == "bücher.example"
    assert domains.display("shop.example") == "shop.example"


# The key and selector


def test_a_new_domain_has_a_sealed_2048_bit_key_and_a_fresh_selector(ctx, row):
    assert (row.domain, row.local_part, row.status) == ("shop.example", "hello", "pending")
    assert re.fullmatch(r"cr\d{6}[0-9a-f]{4}", row.selector)
    assert "PRIVATE KEY" not in row.private_key_sealed
    pem = sealing.open_sealed(row.private_key_sealed, ctx.config["ENCRYPTION_KEY"]).encode()
    key = serialization.load_pem_private_key(pem, password=None)
    assert key.key_size == 2048
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert base64.b64decode(row.public_key) == spki


def test_the_checklist_says_what_a_domain_not_yet_verified_waits_for(ctx, db, row):
    def domain_step():
        merchant = db.get(Merchant, row.merchant_id)
        return next(s for s in onboarding.checklist(merchant) if s.key == "domain")

    assert (domain_step().done, domain_step().underway) == (False, "Waiting for DNS")
    row.status = DomainStatus.FAILING
    db.commit()
    assert (domain_step().done, domain_step().underway) == (False, "Needs attention")
    row.status = DomainStatus.VERIFIED
    db.commit()
    assert domain_step().done


def test_a_new_domain_replaces_the_old_one_with_a_new_key_and_selector(ctx, db, row):
    merchant = db.get(Merchant, row.merchant_id)
    old = (row.selector, row.public_key)
    again = domains.create(merchant, "other-shop.example", "news")
    db.commit()
    assert db.query(SendingDomain).filter_by(merchant_id=merchant.id).count() == 1
    assert domains.current(merchant) is again and again.from_address == "news@other-shop.example"
    assert (again.selector, again.public_key) != old and again.selector != old[0]


def test_the_same_domain_with_another_from_address_keeps_its_key_records_and_status(ctx, db, row):
    merchant = db.get(Merchant, row.merchant_id)
    row.status = DomainStatus.VERIFIED  # its records were found
    db.commit()
    held = (row.id, row.selector, row.public_key, row.private_key_sealed)
    again = domains.create(merchant, "https://www.SHOP.example/", "orders")
    db.commit()
    assert (again.id, again.selector, again.public_key, again.private_key_sealed) == held
    assert again.from_address == "orders@shop.example" and again.status == DomainStatus.VERIFIED


@pytest.mark.parametrize("local_part", ["", "a b", ".hello", "hello.", "a..b", "hé", "x" * 65])
def test_a_from_local_part_must_be_a_plain_dot_atom(ctx, db, local_part):
    with pytest.raises(DomainError, match="before the @"):
        domains.create(make_owner().merchant, "shop.example", local_part)


# The records to publish


def transient(**found) -> SendingDomain:
    """A domain row (never stored) whose last check found `found[kind]` TXT values."""
    checks = {k: {"kind": k, "state": "ok", "message": "", "found": v} for k, v in found.items()}
    return SendingDomain(
        domain="shop.example", selector="cr202612a7f3", public_key="MIIBkey", checks=checks
    )


def test_the_records_are_exact_texts_to_publish():
    dkim_record, spf, dmarc = domains.records(transient(), SPF)
    assert (dkim_record.kind, dkim_record.type, dkim_record.required) == ("dkim", "TXT", True)
    assert dkim_record.host == "cr202612a7f3._domainkey.shop.example"
    assert dkim_record.value == "v=DKIM1; k=rsa; p=MIIBkey"
    assert (spf.host, spf.value, spf.required) == (
        "shop.example",
        f"v=spf1 include:{SPF} ~all",
        False,
    )
    assert (dmarc.host, dmarc.value) == ("_dmarc.shop.example", "v=DMARC1; p=none;")


def test_an_existing_spf_record_is_extended_never_doubled():
    found = transient(spf=["v=spf1 include:_spf.mail.example -all"], dmarc=["v=DMARC1; p=reject"])
    _, spf, dmarc = domains.records(found, SPF)
    assert spf.value == f"v=spf1 include:{SPF} include:_spf.mail.example -all"
    assert "second SPF record" in spf.explanation
    assert dmarc.value == "v=DMARC1; p=reject" and "keep your record" in dmarc.explanation


def test_without_an_operator_include_spf_is_not_needed():
    spf = domains.records(transient(), "")[1]
    assert spf.value == "" and spf.explanation.startswith("Not needed")
