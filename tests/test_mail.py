"""Composing and delivering recovery emails, against a real aiosmtpd server on loopback."""

from __future__ import annotations

import dataclasses
import re
import socket
from email import message_from_bytes, policy

import pytest

from portal.mail.smtp import DeliveryStatus, Mailer, parse_smtp_url
from portal.mail.mime import HeaderInjection, Outgoing, compose
from smtp_sink import SmtpSink

UNSUBSCRIBE = "https://portal.example/u/" + "t0k3n" * 40  # long enough to need folding
OUT = Outgoing(
    sender_name='Müller, "Shop" & Co',
    sender_address="hello@merchant.example",
    to="shopper@example.com",
    subject="Ihr Warenkorb wartet – noch 1 Stück übrig",
    text="Hello,\n.a line that starts with a dot\nYour cart: https://portal.example/r/abc\n",
    html="<p>Hello, <a href='https://portal.example/r/abc'>your cart</a> ✓</p>",
    message_id="<case-42.send-1@mail.platform.example>",
    reply_to="support@merchant.example",
    list_unsubscribe_url=UNSUBSCRIBE,
    headers=(("X-Entity-Ref-ID", "case-42"),),
)


def outgoing(**changes) -> Outgoing:
    return dataclasses.replace(OUT, **changes)


def parsed(msg):
    """What a receiving server would see: the message as bytes on the wire, parsed back."""
    return message_from_bytes(msg.as_bytes(), policy=policy.default)


@pytest.fixture
def sink():
    with SmtpSink() as server:
        yield server


@pytest.fixture
def mailers():
    """Build mailers with `make(url)`; every one is closed after the test."""
    made = []

    def make(url: str, **overrides) -> Mailer:
        settings = dataclasses.replace(parse_smtp_url(url), **{"timeout": 5.0, **overrides})
        made.append(Mailer(settings, local_hostname="worker.test"))
        return made[-1]

    yield make
    for mailer in made:
        mailer.close()


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
    "url, expected",
    [
        ("smtp://mail.example", ("smtp", "mail.example", 25, None, None, "auto", True)),
        (
            "smtp://ann%40shop:p%3Aw%2Fd@mail.example:587",
            ("smtp", "mail.example", 587, "ann@shop", "p:w/d", "auto", True),
        ),
        ("smtps://mail.example", ("smtps", "mail.example", 465, None, None, "auto", True)),
        (
            "smtp://127.0.0.1:2525?starttls=required&verify=false",
            ("smtp", "127.0.0.1", 2525, None, None, "required", False),
        ),
        (
            "smtp://localhost:1025/?starttls=off",
            ("smtp", "localhost", 1025, None, None, "off", True),
        ),
    ],
)
def test_parse_smtp_url(url, expected):
    s = parse_smtp_url(url)
    assert (s.scheme, s.host, s.port, s.username, s.password, s.starttls, s.verify_tls) == expected


@pytest.mark.parametrize(
    "url, problem",
    [
        ("http://mail.example", "scheme"),
        ("mail.example:25", "scheme"),
        ("smtp://", "host"),
        ("smtp://mail.example:99999", "port"),
        ("smtp://mail.example:abc", "port"),
        ("smtp://mail.example:0", "port"),
        ("smtp://mail.example/inbox", "path"),
        ("smtp://mail.example?starttls=maybe", "unknown starttls=maybe"),
        ("smtp://mail.example?tls=1", "unknown tls=1"),
        ("smtp://ann:p%C3%A4ss@mail.example", "ASCII"),
        ("smtp://:s3cret@mail.example", "password without a user"),
        ("smtp://ann:s3cret@mail.example?starttls=off", "credentials need TLS"),
        ("smtps://mail.example?starttls=required", "starttls applies to smtp"),
    ],
)
def test_parse_smtp_url_names_the_problem_without_the_password(url, problem):
    with pytest.raises(ValueError, match="^SMTP_URL: .*" + problem) as raised:
        parse_smtp_url(url)
    assert "s3cret" not in str(raised.value)


def test_three_sends_share_one_connection_and_arrive_intact(sink, mailers):
    mailer = mailers(sink.url())
    results = [mailer.send(compose(outgoing(to=f"s{i}@example.com"))) for i in range(3)]
    assert [(r.status, r.code) for r in results] == [(DeliveryStatus.SENT, 250)] * 3
    assert mailer.connections_opened == 1 and sink.connections == 1
    received = sink.wait_for(3)
    assert [m.rcpt_tos for m in received] == [(f"s{i}@example.com",) for i in range(3)]
    assert {m.connection for m in received} == {1}
    assert received[0].mail_from == OUT.sender_address
    assert (received[0].message["Subject"], received[0].message["Message-ID"]) == (
        OUT.subject,
        OUT.message_id,
    )
    text = received[0].message.get_body(("plain",)).get_content()
    assert text == OUT.text.replace("\n", "\r\n")  # the line starting with a dot survived


def test_rejected_recipient_bounces_and_others_still_go(sink, mailers):
    mailer = mailers(sink.url())
    sink.reject_recipients.add("gone@example.com")
    bounced = mailer.send(compose(outgoing(to="gone@example.com")))
    assert (bounced.status, bounced.code) == (DeliveryStatus.BOUNCED, 550)
    assert "5.1.1" in bounced.detail and "\n" not in bounced.detail
    assert mailer.send(compose(OUT)).status is DeliveryStatus.SENT
    assert mailer.connections_opened == 1


def test_mail_from_5xx_fails(sink, mailers):
    sink.reject_mail_from = "553 5.7.1 Sender address rejected"
    result = mailers(sink.url()).send(compose(OUT))
    assert (result.status, result.code) == (DeliveryStatus.FAILED, 553)
    assert sink.messages == []


@pytest.mark.parametrize(
    "knob, value, status, code",
    [
        ("tempfail_rcpt", 1, DeliveryStatus.DEFERRED, 451),
        (
            "rcpt_reply",
            "554 5.7.1 Relay access denied",
            DeliveryStatus.FAILED,
            554,
        ),  # not the shopper
        ("rcpt_reply", "550 Mailbox unavailable", DeliveryStatus.BOUNCED, 550),
        (
            "rcpt_reply",
            "550 5.4.1 Recipient address rejected: Access denied",
            DeliveryStatus.BOUNCED,
            550,
        ),
        (
            "rcpt_reply",
            "554 5.7.1 <x@example.com>: Recipient rejected by policy",
            DeliveryStatus.BOUNCED,
            554,
        ),
        ("rcpt_reply", "530 5.7.0 Authentication required", DeliveryStatus.FAILED, 530),
        ("rcpt_reply", "552 5.3.4 Message size exceeds fixed limit", DeliveryStatus.FAILED, 552),
        ("data_reply", "550 5.1.1 No such user here", DeliveryStatus.BOUNCED, 550),
        ("data_reply", "554 5.7.1 Message rejected as spam", DeliveryStatus.FAILED, 554),
        ("data_reply", "452 4.3.1 Insufficient system storage", DeliveryStatus.DEFERRED, 452),
    ],
)
def test_refusals_are_classified_then_rset(sink, mailers, knob, value, status, code):
    mailer = mailers(sink.url())
    setattr(sink, knob, value)
    result = mailer.send(compose(OUT))
    assert (result.status, result.code) == (status, code)
    sink.clear()
    assert mailer.send(compose(OUT)).status is DeliveryStatus.SENT  # RSET kept it usable
    assert mailer.connections_opened == 1 and len(sink.messages) == 1


def test_connection_lost_after_data_is_unknown_and_not_resent(sink, mailers):
    mailer = mailers(sink.url())
    sink.drop_after_data = 1
    result = mailer.send(compose(OUT))
    assert result.status is DeliveryStatus.UNKNOWN and result.code is None
    assert len(sink.dropped) == 1 and sink.messages == []  # taken in once, never retried
    assert mailer.send(compose(OUT)).status is DeliveryStatus.SENT
    assert mailer.connections_opened == 2


@pytest.mark.parametrize("idle_check_after", [30.0, 0.0])  # found on MAIL FROM, or by NOOP
@pytest.mark.parametrize(
    "owner, closing", [("sink", "disconnect_all"), ("sink", "restart"), ("mailer", "close")]
)
def test_reconnects_once_the_connection_is_gone(sink, mailers, owner, closing, idle_check_after):
    mailer = mailers(sink.url())
    mailer.idle_check_after = idle_check_after
    assert mailer.send(compose(OUT)).status is DeliveryStatus.SENT
    getattr({"sink": sink, "mailer": mailer}[owner], closing)()
    assert mailer.send(compose(OUT)).status is DeliveryStatus.SENT
    assert mailer.connections_opened == sink.connections == 2 and len(sink.messages) == 2


def test_a_server_closing_the_channel_gets_one_fresh_connection_not_a_loop(sink, mailers):
    mailer = mailers(sink.url())
    assert mailer.send(compose(OUT)).status is DeliveryStatus.SENT
    sink.reject_mail_from = "421 4.3.2 Service shutting down, closing channel"
    result = mailer.send(compose(OUT))
    assert (result.status, result.code) == (DeliveryStatus.DEFERRED, 421)
    assert mailer.connections_opened == 2  # the kept one, then exactly one retry


def test_a_message_without_a_single_recipient_is_a_caller_error(sink, mailers):
    msg = dataclasses.replace(compose(OUT), recipient="a@example.com, b@example.com")
    with pytest.raises(ValueError, match="exactly one From and one To"):
        mailers(sink.url()).send(msg)
    assert sink.connections == 0


def test_starttls_required_with_self_signed_certificate(mailers):
    with SmtpSink(require_starttls=True) as tls_sink:
        mailer = mailers(tls_sink.url() + "&starttls=required")
        assert mailer.send(compose(OUT)).status is DeliveryStatus.SENT
        assert tls_sink.messages[0].tls


def test_certificates_are_verified_unless_told_otherwise(mailers):
    with SmtpSink(starttls=True) as tls_sink:
        result = mailers(tls_sink.url().replace("?verify=false", "")).send(compose(OUT))
        assert result.status is DeliveryStatus.FAILED and "certificate" in result.detail.lower()
        assert tls_sink.messages == []


def test_required_starttls_that_the_server_lacks_fails_before_sending(sink, mailers):
    result = mailers(sink.url() + "?starttls=required").send(compose(OUT))
    assert result.status is DeliveryStatus.FAILED and "STARTTLS" in result.detail
    assert sink.messages == []


@pytest.mark.parametrize("users", [None, {"ann": "pw"}])
def test_smtps(mailers, users):
    with SmtpSink(implicit_tls=True, users=users) as tls_sink:
        url = tls_sink.url("ann", "pw") if users else tls_sink.url()
        assert mailers(url).send(compose(OUT)).status is DeliveryStatus.SENT
        assert tls_sink.messages[0].tls
        assert tls_sink.messages[0].login == ("ann" if users else None)


def test_auth_over_starttls(mailers):
    with SmtpSink(starttls=True, users={"ann@shop": "p:ss w%rd"}) as auth_sink:
        ok = mailers(auth_sink.url("ann@shop", "p:ss w%rd")).send(compose(OUT))
        wrong = mailers(auth_sink.url("ann@shop", "guess")).send(compose(OUT))
        assert ok.status is DeliveryStatus.SENT
        assert auth_sink.messages[0].login == "ann@shop" and auth_sink.messages[0].tls
        assert (wrong.status, wrong.code, len(auth_sink.messages)) == ("failed", 535, 1)


def test_nothing_listening_is_deferred(mailers):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nobody listens on it once closed
    mailer = mailers(f"smtp://127.0.0.1:{port}")
    result = mailer.send(compose(OUT))
    assert result.status is DeliveryStatus.DEFERRED and "refused" in result.detail.lower()
    assert result.detail == "cannot reach the mail server: connection refused"  # no Python repr
    assert mailer.connections_opened == 0


def test_a_server_that_never_answers_is_deferred_within_the_timeout(mailers):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the kernel accepts the connection; nobody ever says 220
        mailer = mailers(f"smtp://127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
        result = mailer.send(compose(OUT))
    assert result.status is DeliveryStatus.DEFERRED and "timed out" in result.detail


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
