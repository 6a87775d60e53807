"""Test emails from the editor, end to end: a request is recorded and rate-limited, the job
renders the design with the sample cart and sends it through the one delivery path to a real
SMTP server (aiosmtpd on loopback), and the row keeps the server's answer."""

from __future__ import annotations

import dataclasses
import re
import socket
from datetime import timedelta

import pytest
from rq import Queue
from sqlalchemy import func, select, update

from factories import make_owner
from portal import db as portal_db
from portal import jobs, worker
from portal.mail import delivery
from portal.mail.content import default_content
from portal.db import utcnow
from portal.models import TestSend, ThrottleHit
from portal.services import email_preview, settings, test_sends
from portal.services.email_design import Design
from smtp_sink import SmtpSink

HEADLINE = "Beans & more, still yours"  # an ampersand: escaped in the HTML, plain in the text
DESIGN = Design(dataclasses.replace(default_content(0), headline=HEADLINE), None, "#0f766e")


@pytest.fixture
def sink(app, monkeypatch):
    """A running SMTP sink the app sends to; every kept SMTP connection is closed afterwards."""
    with SmtpSink() as running:
        for name, value in {
            "SMTP_URL": running.url(),
            "PUBLIC_URL": "https://portal.example",
            "MAIL_FROM": "Cart Recovery <recovery@portal.example>",
        }.items():
            monkeypatch.setitem(app.config, name, value)
        yield running
        delivery.close_all()


@pytest.fixture
def owner(db):
    user = make_owner(name="Bean Shop", email="owner@bean.example")
    sending = settings.settings_for(user.merchant_id)
    sending.sender_name = "Bean Shop Team"
    sending.reply_to = "help@bean.example"
    sending.postal_address = "Bean Shop\n2 Harbour St\nBristol"
    db.commit()
    return user


def request(owner, design: Design = DESIGN) -> int:
    """A queued test email, committed as the editor commits it; its id."""
    queued = test_sends.request(owner.merchant, owner, 0, design)
    assert queued is not None
    portal_db.session.commit()
    return queued.id


def run_job(app, test_send_id: int):
    """The job as a worker runs it: in an app context, with a fresh session."""
    with app.app_context():
        return jobs.send_test_email(test_send_id)


def row(db, test_send_id: int) -> TestSend:
    db.expire_all()
    return db.get(TestSend, test_send_id)


def test_a_test_email_arrives_with_both_parts_and_the_right_headers(app, db, sink, owner):
    test_id = request(owner)
    assert row(db, test_id).status == "queued"

    assert run_job(app, test_id) == "sent"

    (received,) = sink.messages
    assert received.rcpt_tos == ("owner@bean.example",)
    assert received.mail_from == "recovery@portal.example"
    message = received.message
    assert str(message["To"]) == "owner@bean.example"
    assert message.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in message.iter_parts()] == [
        "text/plain",
        "text/html",
    ]
    assert message["Subject"] == "[Test] You left something in your cart at Bean Shop"
    sender = message["From"].addresses[0]
    assert (sender.display_name, sender.addr_spec) == ("Bean Shop Team", "recovery@portal.example")
    assert str(message["Reply-To"]) == "help@bean.example"
    assert re.fullmatch(r"<[0-9a-f]{32}@portal\.example>", message["Message-ID"])
    assert message["Date"] is not None
    assert message["List-Unsubscribe"] is None and message["List-Unsubscribe-Post"] is None

    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert HEADLINE in text and "Beans &amp; more, still yours" in html
    for name, _, _, _ in email_preview.SAMPLE_ITEMS:  # the sample cart, in both parts
        assert name in text and name in html
    assert "https://portal.example/static/sample/shirt.png" in html
    assert 'bgcolor="#0f766e"' in html  # the design's colour, not the saved one
    assert "Bristol" in text and "https://portal.example/unsubscribe/sample" in text

    sent = row(db, test_id)
    assert sent.status == "sent" and "250 " in sent.detail and sent.finished_at
    assert sent.to_address == "owner@bean.example" and sent.design["headline"] == HEADLINE

    assert run_job(app, test_id) is None  # a second run finds it sent and sends nothing
    assert len(sink.messages) == 1 and row(db, test_id).detail == sent.detail


def test_the_worker_sends_a_queued_test_email_once(app, db, sink, owner, redis_conn):
    sending = settings.settings_for(owner.merchant_id)
    sending.reply_to, sending.sender_name = None, ""  # no Reply-To; From in the shop's name
    db.commit()
    test_id = request(owner)
    queues = [Queue(name, connection=redis_conn) for name in ("mail", "default")]
    job = queues[0].enqueue(jobs.send_test_email, test_id, result_ttl=60)
    again = queues[0].enqueue(jobs.send_test_email, test_id, result_ttl=60)  # e.g. a retry

    assert worker.run(app, redis_conn, queues, burst=True)

    job.refresh()
    again.refresh()
    assert (job.get_status(), job.return_value()) == ("finished", "sent")
    assert (again.get_status(), again.return_value()) == ("finished", None)
    (received,) = sink.messages
    message = received.message
    assert message["Subject"].startswith("[Test] ") and message["Reply-To"] is None
    assert message["From"].addresses[0].display_name == "Bean Shop"
    assert HEADLINE in message.get_body(("plain",)).get_content()
    sent = row(db, test_id)
    assert sent.status == "sent" and "250 " in sent.detail


@pytest.mark.parametrize(
    "knob, value, answer",
    [
        ("reject_recipients", {"owner@bean.example"}, "550 5.1.1 <owner@bean.example>"),
        ("data_reply", "554 5.7.1 Message rejected as spam", "554 5.7.1 Message rejected as spam"),
        ("reject_mail_from", "553 5.7.1 Sender rejected", "553 5.7.1 Sender rejected"),
    ],
)
def test_a_refusing_server_leaves_the_test_failed_with_its_answer(
    app, db, sink, owner, knob, value, answer
):
    setattr(sink, knob, value)
    test_id = request(owner)

    assert run_job(app, test_id) == "failed"

    failed = row(db, test_id)
    assert failed.status == "failed" and answer in failed.detail  # the server's own words
    assert failed.detail.count(answer[:4]) == 1  # its code said once
    assert failed.finished_at is not None and sink.messages == []
    sink.clear()
    assert run_job(app, test_id) is None and sink.messages == []  # not tried again


def test_a_server_that_hangs_up_after_the_data_may_have_delivered_and_says_so(
    app, db, sink, owner
):
    sink.drop_after_data = 1
    test_id = request(owner)
    assert run_job(app, test_id) == "failed"
    detail = row(db, test_id).detail
    assert detail == test_sends.OWN_WORDS + test_sends.UNKNOWN_WORDS
    assert "may have arrived" in detail and "SMTPServerDisconnected" not in detail


def test_no_server_listening_leaves_the_test_failed_saying_so(app, db, sink, owner, monkeypatch):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # free, and nobody listens on it once closed
    monkeypatch.setitem(app.config, "SMTP_URL", f"smtp://127.0.0.1:{port}")
    test_id = request(owner)

    assert run_job(app, test_id) == "failed"

    failed = row(db, test_id)
    assert failed.status == "failed" and "refused" in failed.detail.lower(), failed.detail


def test_a_test_send_that_is_gone_is_no_work(app, sink):
    assert run_job(app, 2**31 - 1) is None and sink.messages == []


def test_the_sixth_request_in_ten_minutes_is_refused_for_that_merchant_only(db, owner):
    assert test_sends.LIMIT == 5
    ids = [request(owner) for _ in range(test_sends.LIMIT)]
    assert len(set(ids)) == 5 and "every 10 minutes" in test_sends.refusal(owner.merchant)

    assert test_sends.request(owner.merchant, owner, 0, DESIGN) is None
    db.commit()
    assert db.scalar(select(func.count()).select_from(TestSend)) == 5

    other = make_owner()
    assert test_sends.request(other.merchant, other, 0, DESIGN) is not None


def test_a_day_holds_at_most_the_daily_limit_of_test_emails(db, owner):
    earlier = utcnow() - timedelta(hours=20)  # hits of earlier ten-minute windows today
    for _ in range(test_sends.DAILY_LIMIT):
        db.add(ThrottleHit(key=f"test-send:{owner.merchant_id}", at=earlier))
    db.commit()
    assert test_sends.request(owner.merchant, owner, 0, DESIGN) is None
    assert "30 test emails in the last 24 hours" in test_sends.refusal(owner.merchant)
    db.execute(update(ThrottleHit).values(at=utcnow() - timedelta(hours=25)))
    db.commit()
    assert test_sends.refusal(owner.merchant) is None


def test_no_transaction_is_held_while_the_mail_server_answers(app, sink, owner, monkeypatch):
    from helpers import transactions_during

    held = transactions_during(monkeypatch, delivery, "send")
    assert run_job(app, request(owner)) == "sent" and held == [False]


def test_a_try_that_stops_after_the_server_took_the_email_is_not_sent_again(
    app, db, sink, owner, monkeypatch
):
    real_send = delivery.send

    def sent_then_lost(message, merchant_id):  # the worker dies before the answer is kept
        real_send(message, merchant_id)
        raise ConnectionError("database gone")

    monkeypatch.setattr(delivery, "send", sent_then_lost)
    test_id = request(owner)
    with pytest.raises(ConnectionError):
        run_job(app, test_id)
    portal_db.session.rollback()
    monkeypatch.setattr(delivery, "send", real_send)

    assert run_job(app, test_id) == "failed"  # the retry

    assert len(sink.messages) == 1
    assert row(db, test_id).detail == test_sends.OWN_WORDS + test_sends.UNKNOWN_WORDS
    assert run_job(app, test_id) is None and len(sink.messages) == 1


def test_the_last_failed_try_of_a_claimed_test_says_it_may_have_arrived(app, db, owner):
    test_id = request(owner)
    db.execute(update(TestSend).where(TestSend.id == test_id).values(status="sending"))
    db.commit()
    with app.app_context():
        test_sends.fail(test_id, "Not sent: the portal's worker failed three times.")
        portal_db.session.commit()
    failed = row(db, test_id)
    assert (failed.status, failed.detail) == (
        "failed",
        test_sends.OWN_WORDS + test_sends.UNKNOWN_WORDS,
    )
