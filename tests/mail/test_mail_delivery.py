"""Delivering over SMTP: shared connections, refusals classified, losses never resent, deferrals."""

from __future__ import annotations

import dataclasses
import socket

import pytest

from portal.mail.smtp import DeliveryStatus
from portal.mail.mime import compose
from mail_kit import OUT, outgoing


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
