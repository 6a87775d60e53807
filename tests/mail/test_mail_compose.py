"""Composing recovery emails: MIME parts, headers that round-trip, and values refused by field."""

from __future__ import annotations

import re
from email import message_from_bytes, policy

import pytest

from portal.mail.smtp import DeliveryStatus
from portal.mail.mime import HeaderInjection, compose
from mail_kit import OUT, UNSUBSCRIBE, outgoing


def parsed(msg):
    """What a receiving server would see: the message as bytes on the wire, parsed back."""
    return message_from_bytes(msg.as_bytes(), policy=policy.default)


def test_compose_is_multipart_alternative_text_then_html():
    msg = parsed(compose(OUT))
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert parts[0].get_content() == OUT.text.replace("\n", "\r\n")  # CRLF: the wire form
    assert parts[1].get_content().strip() == OUT.html


def test_the_envelope_sender_may_differ_from_the_from_address(sink, mailers):
    # Mail From a merchant's own domain bounces to the platform: the envelope says so.
    msg = compose(outgoing(envelope_sender="bounces@platform.example"))
    assert (msg.sender, parsed(msg)["From"].addresses[0].addr_spec) == (
        "bounces@platform.example",
        "hello@merchant.example",
    )
    assert compose(OUT).sender == "hello@merchant.example"
    assert mailers(sink.url()).send(msg).status == DeliveryStatus.SENT
    assert sink.messages[0].mail_from == "bounces@platform.example"
    with pytest.raises(ValueError, match="envelope_sender"):
        compose(outgoing(envelope_sender="not an address"))


def test_bodies_that_are_shorter_in_base64_are_sent_in_base64():
    japanese = outgoing(text="日本語のメールです。" * 50, html="<p>" + "ひらがな" * 100 + "</p>")
    for part in parsed(compose(japanese)).iter_parts():
        assert part["Content-Transfer-Encoding"] == "base64"
    assert parsed(compose(japanese)).get_body(("plain",)).get_content().startswith("日本語")
    latin = parsed(compose(OUT))
    assert {p["Content-Transfer-Encoding"] for p in latin.iter_parts()} == {"quoted-printable"}


def test_compose_headers_round_trip_and_stay_7bit():
    wire = compose(OUT).as_bytes()
    msg = message_from_bytes(wire, policy=policy.default)
    assert wire.isascii() and max(len(line) for line in wire.split(b"\r\n")) < 998
    assert f"List-Unsubscribe: <{UNSUBSCRIBE}>\r\n".encode() in wire  # never RFC 2047-encoded
    sender = msg["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == (OUT.sender_name, OUT.sender_address)
    assert msg["Subject"] == OUT.subject
    assert str(msg["To"]) == OUT.to and str(msg["Reply-To"]) == OUT.reply_to
    assert msg["Message-ID"] == OUT.message_id
    assert msg["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert msg["X-Entity-Ref-ID"] == "case-42"
    assert msg["Date"].datetime is not None
    assert msg["Auto-Submitted"] is None
    bare = parsed(compose(outgoing(reply_to=None, list_unsubscribe_url=None, headers=())))
    assert not any(bare[h] for h in ("Reply-To", "List-Unsubscribe", "List-Unsubscribe-Post"))


@pytest.mark.parametrize(
    "field, changes",
    [
        ("sender_name", {"sender_name": "Shop\r\nBcc: victim@example.com"}),
        ("reply_to", {"reply_to": "a@merchant.example\nBcc: victim@example.com"}),
        ("subject", {"subject": "Hello\r\nBcc: victim@example.com"}),
        ("to", {"to": "shopper@example.com\rBcc: victim@example.com"}),
        (
            "headers[X-Entity-Ref-ID]",
            {"headers": (("X-Entity-Ref-ID", "1\r\nBcc: v@example.com"),)},
        ),
        (
            "list_unsubscribe_url",
            {"list_unsubscribe_url": "https://p.example/u\r\nBcc: v@example.com"},
        ),
        ("message_id", {"message_id": "<a@b>\nBcc: v@example.com"}),
        ("subject", {"subject": "Hello\x00"}),
        ("sender_name", {"sender_name": "Shop\u2028Bcc: v@example.com"}),
    ],
)
def test_control_characters_in_header_values_are_refused(sink, mailers, field, changes):
    with pytest.raises(HeaderInjection, match=rf"^{re.escape(field)}: contains control character"):
        mailers(sink.url()).send(compose(outgoing(**changes)))
    assert sink.messages == [] and sink.connections == 0


@pytest.mark.parametrize(
    "field, changes",
    [
        ("to", {"to": "not-an-address"}),
        ("to", {"to": "a@example.com, b@example.com"}),
        ("to", {"to": "Ann <a@example.com>"}),
        ("to", {"to": "a@"}),
        ("to", {"to": "jörg@example.com"}),  # internationalized: needs SMTPUTF8 end to end
        ("to", {"to": "anna@bücher.example"}),
        ("reply_to", {"reply_to": "@merchant.example"}),
        ("sender_address", {"sender_address": ""}),
        ("list_unsubscribe_url", {"list_unsubscribe_url": "http://portal.example/u/1"}),
        ("list_unsubscribe_url", {"list_unsubscribe_url": "https://portal.example/u/a b"}),
        ("message_id", {"message_id": "case-42@mail.platform.example"}),
        ("headers", {"headers": (("From", "x@example.com"),)}),
        ("headers", {"headers": (("X Bad:", "1"),)}),
    ],
)
def test_malformed_values_are_refused_naming_the_field(field, changes):
    with pytest.raises(ValueError, match=rf"^{field}\b") as raised:
        compose(outgoing(**changes))
    assert not isinstance(raised.value, HeaderInjection)


@pytest.mark.parametrize(
    "name, subject",
    [
        ('Shop "Best", Inc. \\ Co', "A plain ASCII subject " * 12),  # quoted, folded
        ("Café Zoë", "Ein Betreff mit Umlauten: äöü " * 8),  # encoded-words, folded
    ],
)
def test_display_names_and_long_subjects_round_trip(name, subject):
    wire = compose(
        outgoing(sender_name=name, subject=subject, list_unsubscribe_url=None)
    ).as_bytes()
    msg = message_from_bytes(wire, policy=policy.default)
    assert wire.isascii() and max(len(line) for line in wire.split(b"\r\n")) <= 78
    assert msg["From"].addresses[0].display_name == name
    assert msg["Subject"] == subject


def test_extra_headers_may_not_repeat_a_set_one_in_any_case():
    with pytest.raises(ValueError, match="^headers: 'content-type' is already set"):
        compose(outgoing(headers=(("content-type", "text/plain"),)))
    with pytest.raises(ValueError, match="^headers: 'X-A' is already set"):
        compose(outgoing(headers=(("X-A", "1"), ("X-A", "2"))))


@pytest.mark.parametrize(
    "text", ["=?utf-8?q?Shop=0D=0ABcc:_v@evil.example?=", "Sale =?UTF-8?B?DQpCY2M6?= now"]
)
def test_text_that_looks_like_an_encoded_word_is_shown_as_typed_never_decoded(text):
    wire = compose(outgoing(sender_name=text, subject=text, list_unsubscribe_url=None)).as_bytes()
    msg = message_from_bytes(wire, policy=policy.default)
    assert msg["From"].addresses[0].display_name == text and msg["Subject"] == text
    assert "\r" not in str(msg["Subject"]) and "\n" not in msg["From"].addresses[0].display_name
    assert text.encode() not in wire  # a reader that decodes words finds only ours
