"""Custom sending domains (SPEC 4): the domain as typed, its key, the records to publish, their
checks against a real DNS server on loopback, the status those move, and DKIM signatures that
verify against the published key, also after an SMTP hop through aiosmtpd."""

from __future__ import annotations

import base64
import re
import smtplib
from datetime import timedelta

import dkim as dkimpy
import dns.resolver
import pytest
from cryptography.hazmat.primitives import serialization

from dns_server import dkim_lookup, dns_server_fixture  # noqa: F401  (the fixture)
from factories import make_owner
from portal import sealing
from portal.db import utcnow
from portal.mail import dkim
from portal.mail.mime import Outgoing, compose
from portal.models import DomainStatus, Merchant, SendingDomain
from portal.services import domains, onboarding
from portal.services.domains import CheckState, DomainError
from smtp_sink import SmtpSink

SPF = "_spf.portal.example"
OTHER_KEY = dkim.new_key()[1]


# The domain as typed


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
def test_a_domain_is_stored_as_lower_case_a_labels(typed, stored):
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
        ("a" * 64 + ".example", "63 characters"),
        (".".join(["abcdefghi"] * 26), "253 characters"),
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
def test_a_domain_that_cannot_send_is_refused_in_words(typed, says):
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


@pytest.fixture
def ctx(app, monkeypatch):
    """An app context, with the operator's SPF include configured."""
    monkeypatch.setitem(app.config, "SPF_INCLUDE", SPF)
    with app.app_context():
        yield app


@pytest.fixture
def row(ctx, db) -> SendingDomain:
    created = domains.create(make_owner().merchant, "Shop.example")
    db.commit()
    return created


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
    again = domains.create(merchant, "shop.example", "news")
    db.commit()
    assert db.query(SendingDomain).filter_by(merchant_id=merchant.id).count() == 1
    assert domains.current(merchant) is again and again.local_part == "news"
    assert (again.selector, again.public_key) != old and again.selector != old[0]


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


# Checks against a real DNS server


def publish(server, row, dkim_value=None, spf=f"v=spf1 include:{SPF} ~all", dmarc=None):
    server.set_txt(f"{row.selector}._domainkey.{row.domain}", dkim_value or dkim_record(row))
    server.set_txt(row.domain, spf, "google-site-verification=abc")
    server.set_txt(
        f"_dmarc.{row.domain}", dmarc or "v=DMARC1; p=quarantine; rua=mailto:d@x.example"
    )


def dkim_record(row) -> str:
    return f"v=DKIM1; k=rsa; p={row.public_key}"


def verify(row, server, now=None, lifetime=5.0):
    resolver = domains.resolver_from({"DNS_RESOLVER": server.address})
    resolver.lifetime = lifetime
    return domains.verify(row, now or utcnow(), resolver)


def states(result) -> dict[str, str]:
    return {c.kind: c.state for c in result.checks}


def test_right_records_verify_the_domain(ctx, db, row, dns_server):
    publish(dns_server, row)
    now = utcnow()
    result = verify(row, dns_server, now)
    assert states(result) == {"dkim": "ok", "spf": "ok", "dmarc": "ok"}
    assert (result.status, result.broke) == (DomainStatus.VERIFIED, False)
    db.commit()
    db.expire_all()
    assert (row.status, row.verified_at, row.checked_at) == ("verified", now, now)
    assert domains.last_checks(row)["dkim"].state == CheckState.OK


def test_a_missing_dkim_record_leaves_the_domain_pending(ctx, row, dns_server):
    publish(dns_server, row)
    dns_server.clear_txt(f"{row.selector}._domainkey.shop.example")
    result = verify(row, dns_server)
    assert result.status == DomainStatus.PENDING and states(result)["dkim"] == "missing"


def test_another_key_is_wrong_and_shown(ctx, row, dns_server):
    publish(dns_server, row, dkim_value=f"v=DKIM1; k=rsa; p={OTHER_KEY}")
    dkim_check = verify(row, dns_server).checks[0]
    assert dkim_check.state == CheckState.WRONG and row.status == "pending"
    assert f"p={OTHER_KEY[:10]}" in dkim_check.message
    assert dkim_check.found == (f"v=DKIM1; k=rsa; p={OTHER_KEY}",)


def test_split_strings_spaces_and_any_tag_order_are_read_as_one_record(ctx, row, dns_server):
    key = row.public_key
    spaced = f"p={key[:100]} {key[100:200]}\t{key[200:]} ; v=DKIM1"  # no k=, p= first
    publish(dns_server, row, dkim_value=[spaced[:7], spaced[7:260], spaced[260:]])
    dns_server.set_txt(row.domain, ["v=spf1 inc", f"lude:{SPF} -all"])
    assert states(verify(row, dns_server)) == {"dkim": "ok", "spf": "ok", "dmarc": "ok"}


def test_two_spf_records_are_wrong_but_do_not_stop_verification(ctx, row, dns_server):
    publish(dns_server, row)
    dns_server.set_txt(row.domain, f"v=spf1 include:{SPF} ~all", "v=spf1 mx -all")
    result = verify(row, dns_server)
    assert states(result)["spf"] == "wrong" and result.status == DomainStatus.VERIFIED
    assert "only one SPF record" in result.checks[1].message


def test_an_spf_record_without_our_include_is_wrong(ctx, row, dns_server):
    publish(dns_server, row, spf="v=spf1 include:_spf.mail.example -all")
    spf = verify(row, dns_server).checks[1]
    assert spf.state == "wrong" and f"add include:{SPF}" in spf.message


def test_no_dmarc_record_gets_p_none_suggested(ctx, row, dns_server):
    publish(dns_server, row)
    dns_server.clear_txt("_dmarc.shop.example")
    dmarc_check = verify(row, dns_server).checks[2]
    assert dmarc_check.state == "missing" and "v=DMARC1; p=none;" in dmarc_check.message
    dmarc = domains.records(row, SPF)[2]
    assert dmarc.value == "v=DMARC1; p=none;" and dmarc.explanation.startswith("Recommended")


@pytest.mark.parametrize("tag", ["aspf", "adkim"])
def test_strict_dmarc_alignment_is_warned_about_by_its_tag(ctx, row, dns_server, tag):
    publish(dns_server, row, dmarc=f"v=DMARC1; p=reject; {tag}=s")
    dmarc = verify(row, dns_server).checks[2]
    assert dmarc.state == CheckState.WARNING and f"{tag}=s" in dmarc.message
    assert row.status == "verified"


def test_unreachable_dns_is_no_break(ctx, row, dns_server):
    publish(dns_server, row)
    verify(row, dns_server)
    dns_server.servfail = True
    assert set(states(verify(row, dns_server)).values()) == {"unreachable"}
    dns_server.stop()
    result = verify(row, dns_server, lifetime=0.3)
    assert set(states(result).values()) == {"unreachable"}
    assert (result.status, result.broke, row.failing_since) == ("verified", False, None)


def test_a_record_that_breaks_fails_once_then_recovers(ctx, db, row, dns_server):
    publish(dns_server, row)
    verify(row, dns_server)
    dns_server.clear_txt(f"{row.selector}._domainkey.shop.example")
    broke_at = utcnow()
    first, second = verify(row, dns_server, broke_at), verify(row, dns_server)
    assert (first.status, first.broke) == ("failing", True)
    assert (second.status, second.broke) == ("failing", False)
    assert row.failing_since == broke_at and domains.signer_for(row) is None
    db.commit()
    assert domains.claim_owner_notice(row, utcnow()) is True
    assert domains.claim_owner_notice(row, utcnow()) is False
    publish(dns_server, row)
    fixed = verify(row, dns_server)
    assert (fixed.status, fixed.broke) == ("verified", False)
    assert row.failing_since is None and row.owner_notified_at is None


def test_a_wrong_key_after_verification_breaks_too(ctx, row, dns_server):
    publish(dns_server, row)
    verify(row, dns_server)
    publish(dns_server, row, dkim_value=f"v=DKIM1; p={OTHER_KEY}")
    assert verify(row, dns_server).broke is True and row.status == "failing"


def test_without_an_spf_include_spf_is_not_checked(ctx, row, dns_server):
    ctx.config["SPF_INCLUDE"] = ""
    publish(dns_server, row, spf="v=spf1 -all")
    assert states(verify(row, dns_server))["spf"] == "not_needed"


def test_the_resolver_follows_dns_resolver_and_gives_up_soon():
    resolver = domains.resolver_from({"DNS_RESOLVER": "127.0.0.1:5353"})
    assert list(resolver.nameservers) == ["127.0.0.1"]
    assert (resolver.port, resolver.lifetime) == (5353, 5.0)
    assert isinstance(domains.resolver_from({"DNS_RESOLVER": ""}), dns.resolver.Resolver)


def test_domains_unchecked_for_the_period_are_due(ctx, db):
    now = utcnow()
    rows = [domains.create(make_owner().merchant, f"shop{n}.example") for n in range(3)]
    rows[1].checked_at, rows[2].checked_at = now - timedelta(hours=2), now - timedelta(minutes=5)
    db.commit()
    assert domains.due_for_recheck(now, every=timedelta(hours=1)) == [rows[0].id, rows[1].id]


# DKIM signatures


def message(n: int = 0, reply_to: str | None = "help@shop.example") -> bytes:
    return compose(
        Outgoing(
            sender_name="Bücher & Co",
            sender_address="hello@shop.example",
            to=f"shopper{n}@example.com",
            subject=f"Ihr Warenkorb wartet ✓ {n}",
            text=f"Hello,\n.a line that starts with a dot\n{'long line ' * 30}\n{n}\n",
            html=f"<p>Hello {n}, <a href='https://portal.example/r/abc'>your cart</a> ✓</p>",
            message_id=f"<case-{n}@portal.example>",
            reply_to=reply_to,
            list_unsubscribe_url=f"https://portal.example/u/token{n}",
        )
    ).data


@pytest.fixture
def signer(ctx, row, dns_server):
    publish(dns_server, row)
    verify(row, dns_server)
    return domains.signer_for(row)


def test_pending_domains_have_no_signer(ctx, row):
    assert domains.signer_for(row) is None and domains.signer_for(None) is None


def test_every_signed_message_verifies_against_the_published_key(signer, dns_server):
    for n in range(5):
        signed = signer.sign(message(n, reply_to=None if n % 2 else "help@shop.example"))
        assert dkimpy.verify(signed, dnsfunc=dkim_lookup(dns_server)), n
    header = signed.split(b"\r\n\r\n", 1)[0].decode()
    tags = dkimpy.util.parse_tag_value(header.split(":", 1)[1].split("\r\nFrom:")[0].encode())
    assert (tags[b"a"], tags[b"c"], tags[b"d"]) == (
        b"rsa-sha256",
        b"relaxed/relaxed",
        b"shop.example",
    )
    signed_names = [name.strip() for name in tags[b"h"].decode().split(":")]
    for name in ("list-unsubscribe", "list-unsubscribe-post", "from", "to", "subject"):
        assert signed_names.count(name) == 2  # once signed, once more against additions


def test_a_signed_message_still_verifies_after_an_smtp_hop(signer, dns_server):
    signed = signer.sign(message())
    with SmtpSink() as sink, smtplib.SMTP("127.0.0.1", sink.port, timeout=5) as client:
        client.sendmail("bounces@portal.example", ["shopper0@example.com"], signed)
        received = sink.wait_for(1)[0].data
    assert dkimpy.verify(received, dnsfunc=dkim_lookup(dns_server))


@pytest.mark.parametrize(
    "tamper",
    [
        lambda m: b"Subject: You won a prize\r\n" + m,  # a second Subject, at the top
        lambda m: m.replace(b"To: shopper0@", b"To: victim@"),
        lambda m: m.replace(b"\r\n\r\n", b"\r\nReply-To: thief@evil.example\r\n\r\n", 1),
        lambda m: m.replace(b"portal.example/u/token0", b"evil.example/u"),
        lambda m: m.replace(b"your cart", b"our cart"),
    ],
    ids=["second-subject", "changed-to", "added-reply-to", "changed-unsubscribe", "body"],
)
def test_a_message_changed_after_signing_fails_verification(signer, dns_server, tamper):
    signed = signer.sign(message(reply_to=None))
    assert dkimpy.verify(signed, dnsfunc=dkim_lookup(dns_server))
    assert tamper(signed) != signed
    assert not dkimpy.verify(tamper(signed), dnsfunc=dkim_lookup(dns_server))


def test_a_signature_for_a_key_not_published_fails(signer, dns_server, row):
    dns_server.set_txt(f"{row.selector}._domainkey.shop.example", f"v=DKIM1; p={OTHER_KEY}")
    assert not dkimpy.verify(signer.sign(message()), dnsfunc=dkim_lookup(dns_server))


def test_the_parsed_key_is_reused_by_later_signers(ctx, row):
    pem = sealing.open_sealed(row.private_key_sealed, ctx.config["ENCRYPTION_KEY"]).encode()
    dkim.Signer(row.domain, row.selector, pem)
    hits = dkim._private_key.cache_info().hits
    dkim.Signer(row.domain, row.selector, pem)
    assert dkim._private_key.cache_info().hits == hits + 1
