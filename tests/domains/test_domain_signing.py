"""DKIM signatures that verify against the published key, also after an SMTP hop."""

from __future__ import annotations

import smtplib

import dkim as dkimpy

import pytest

from dns_server import dkim_lookup, dns_server_fixture  # noqa: F401  (the fixture)
from portal import sealing
from portal.mail import dkim

from portal.services import domains
from smtp_sink import SmtpSink
from domains_kit import OTHER_KEY, message, publish, verify


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
