"""Recovery end to end: deferred emails retried by the sweep, given up, or bounced."""

from __future__ import annotations

from datetime import timedelta, timezone

from rq import Queue
from sqlalchemy import select

from factories import PASSWORD
from portal import jobs, worker
from recovery_flow_kit import retry_due
from portal.db import utcnow
from portal.models import Contact, EmailSend, RecoveryCase, SendingSettings, StripeEvent
from portal.services import events, recovery, sending


def test_duplicates_and_retries_never_send_twice(kit, db, client):
    session_id = kit.checkout("dee@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    case_id = kit.case(session_id).id
    for _ in range(3):  # RQ retries, a second worker, a stale job...
        assert kit.run(recovery.process, case_id) == "inactive"
    stored = db.scalars(select(StripeEvent.event_id)).all()
    assert kit.run(lambda: (events.replay(stored), db.commit())[0]) == len(
        stored
    )  # operator replay
    kit.settle()
    assert len(kit.sink.messages) == 1
    assert db.scalars(select(EmailSend)).one().status == "sent"


def test_a_4xx_is_retried_until_the_server_takes_it(kit, db):
    kit.sink.tempfail_rcpt = 1
    session_id = kit.checkout("eve@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    send = db.scalars(select(EmailSend)).one()
    assert send.status == "deferred" and kit.sink.messages == []
    assert kit.run(retry_due, utcnow() + timedelta(minutes=2)) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    assert (send.status, send.attempts) == ("sent", 2) and len(kit.sink.messages) == 1


def test_the_sweep_queues_each_due_retry_as_its_own_job_once(kit, db, redis_conn):
    """A retry waits on the mail server and on Stripe, which can hang: the periodic sweep
    only queues it, so it never holds the sweep (which applies events and queues carts)."""
    kit.sink.tempfail_rcpt = 1
    kit.action(kit.checkout("ida@example.com"), "expire")
    kit.settle()
    send = db.scalars(select(EmailSend)).one()
    send.next_attempt_at, send_id = utcnow() - timedelta(seconds=1), send.id
    db.commit()
    mail = Queue("mail", connection=redis_conn)
    mail.empty()
    assert kit.run(jobs.tick)["sends_queued"] == 1
    assert kit.run(jobs.tick)["sends_queued"] == 0  # its job is waiting: not queued twice
    assert [job.func_name for job in mail.jobs] == ["portal.jobs.retry_send"]
    assert kit.sink.messages == [] and db.get(EmailSend, send_id).status == "deferred"
    worker.run(kit.app, redis_conn, [mail], burst=True)
    db.expire_all()
    assert db.get(EmailSend, send_id).status == "sent" and len(kit.sink.messages) == 1


def _deferred_send(kit, db, address: str) -> EmailSend:
    kit.sink.tempfail_rcpt = 100  # every try is answered 451
    session_id = kit.checkout(address)
    kit.action(session_id, "expire")
    kit.settle()
    send = db.scalars(select(EmailSend)).one()
    assert send.status == "deferred" and send.attempts == 1
    return send


def test_the_cart_page_says_when_a_deferred_email_is_tried_next(kit, db, client, login):
    from zoneinfo import ZoneInfo

    send = _deferred_send(kit, db, "ada@example.com")
    zone = db.get(SendingSettings, kit.merchant_id).timezone
    local = send.next_attempt_at.replace(tzinfo=timezone.utc).astimezone(ZoneInfo(zone))
    login(client, "owner@bean.example", PASSWORD)
    page = client.get(f"/carts/{send.case_id}").get_data(as_text=True)
    assert "Email 1 is waiting to be tried again" in page
    assert f"Next try {local:%b} {local.day}, {local.year}, {local:%H:%M} {local.tzname()}" in page


def test_a_deferred_email_is_given_up_24_hours_after_its_first_try(kit, db):
    send = _deferred_send(kit, db, "ava@example.com")
    first = send.created_at
    # The sweep that would come after 24 h gives up before asking the server again.
    assert kit.run(retry_due, first + timedelta(hours=24, minutes=1)) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    assert (send.status, send.attempts) == (
        "failed",
        1,
    ) and "no retry past 24 h" in send.last_error
    assert kit.sink.tempfail_rcpt == 99  # only the first try reached the server


def test_a_retry_due_past_24_hours_is_not_scheduled(kit, db):
    send = _deferred_send(kit, db, "abe@example.com")
    first = send.created_at
    # The try 23 h 58 min in is refused too: the next one, 5 min later, would be past 24 h.
    assert kit.run(retry_due, first + timedelta(hours=23, minutes=58)) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    assert (send.status, send.attempts, send.next_attempt_at) == ("failed", 2, None)
    from portal.services import carts

    assert carts.error_words(send.last_error).startswith(
        "Not tried again: the mail server put it off for 24 hours. Its last answer: RCPT TO"
    )
    assert carts._emails_in_words([send]).endswith("the mail server put it off for 24 hours")


def test_a_retry_waits_out_quiet_hours_and_stops_at_the_links_end(kit, db):
    send = _deferred_send(kit, db, "amy@example.com")
    retry_at = send.next_attempt_at + timedelta(seconds=1)
    settings = db.get(SendingSettings, kit.merchant_id)
    settings.timezone = "UTC"
    settings.quiet_start, settings.quiet_end = retry_at.hour, (retry_at.hour + 2) % 24
    db.commit()
    assert kit.run(retry_due, retry_at) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    resume = retry_at.replace(minute=0, second=0, microsecond=0) + timedelta(hours=2)
    assert (send.status, send.attempts, send.next_attempt_at) == ("deferred", 1, resume)
    assert kit.sink.tempfail_rcpt == 99
    session = db.get(RecoveryCase, send.case_id).session
    session.recovery_expires_at = resume - timedelta(minutes=1)
    db.commit()
    assert kit.run(retry_due, resume) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    assert send.status == "failed" and send.last_error.endswith("recovery_url_expired")
    assert kit.sink.messages == [] and kit.sink.tempfail_rcpt == 99


def test_two_sweeps_at_once_retry_a_deferred_email_once(kit, db):
    kit.sink.tempfail_rcpt = 1
    session_id = kit.checkout("eva@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    send_id = db.scalars(select(EmailSend.id)).one()
    later = utcnow() + timedelta(minutes=2)
    assert kit.run(sending._take_deferred, send_id, later) is not None  # a slow sweep has it
    assert kit.run(sending._take_deferred, send_id, later) is None  # so the next one cannot
    assert kit.run(retry_due, later) == 0 and kit.sink.messages == []
    # The slow sweep's worker died before the hand-off: the claim comes back, and goes once.
    assert kit.run(sending.expire_claims, now=utcnow() + timedelta(minutes=11)) == 1
    assert kit.run(retry_due, utcnow() + timedelta(minutes=12)) == 1
    assert kit.run(retry_due, utcnow() + timedelta(minutes=13)) == 0
    assert [list(m.rcpt_tos) for m in kit.sink.messages] == [["eva@example.com"]]


def test_a_5xx_for_the_recipient_bounces_and_suppresses_the_address(kit, db):
    kit.sink.reject_recipients.add("fay@example.com")
    first = kit.checkout("fay@example.com")
    kit.action(first, "expire")
    kit.settle()
    assert db.scalars(select(EmailSend)).one().status == "bounced"
    contact = db.scalars(select(Contact)).one()
    assert contact.suppressed_at is not None and "bounced" in contact.suppressed_reason
    second = kit.checkout("fay@example.com")
    kit.action(second, "expire")
    kit.settle()
    assert kit.case(second).reason in ("suppressed", "unsubscribed")
    assert kit.sink.messages == []


def test_a_deferred_retry_asks_stripe_again_and_a_purchase_meanwhile_cancels_it(
    kit, db, app, monkeypatch
):
    kit.sink.tempfail_rcpt = 1
    abandoned = kit.checkout("jo@example.com")
    kit.action(abandoned, "expire")
    kit.settle()
    assert db.scalars(select(EmailSend.status)).one() == "deferred"
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")  # Stripe away
    assert kit.run(retry_due, utcnow() + timedelta(minutes=2)) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    assert (send.status, send.attempts) == ("deferred", 1) and kit.sink.messages == []
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", kit.sandbox.base)
    bought = kit.checkout("jo@example.com")  # a new checkout, paid before the retry
    kit.action(bought, "pay", email="jo@example.com")
    assert kit.run(retry_due, utcnow() + timedelta(minutes=5)) == 1
    db.expire_all()
    send = db.scalars(select(EmailSend)).one()
    assert send.status == "failed" and "completed_elsewhere" in send.last_error
    assert kit.sink.messages == []


def test_a_retry_a_rule_stopped_is_told_in_words_the_servers_own_as_it_said_them():
    from portal.services import carts

    stopped = carts.error_words("cancelled before retry: completed_elsewhere")
    assert stopped == "Not tried again. The shopper bought in a later checkout."
    assert (
        carts.error_words("RCPT TO refused: 550 5.1.1 gone") == "RCPT TO refused: 550 5.1.1 gone"
    )
    assert carts.error_words(None) == ""
    stopped_send = EmailSend(status="failed", last_error="cancelled before retry: unsubscribed")
    assert carts._emails_in_words([stopped_send]) == (
        "The email was not tried again: the address is unsubscribed"
    )
