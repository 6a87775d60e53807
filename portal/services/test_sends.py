"""Test emails from the editor: the design as it stands in the editor, rendered with the sample
cart, sent to the signed-in user's own address by a worker through the one delivery path.
Rate-limited per merchant, per ten minutes and per day: a test email is still an email, with
the user's text.
"""

from __future__ import annotations

from dataclasses import asdict, fields, replace
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from portal import db
from portal.db import utcnow
from portal.mail import content as texts
from portal.mail import delivery
from portal.mail.mime import HeaderInjection
from portal.mail.smtp import DeliveryStatus
from portal.models import Merchant, TestSend, TestSendStatus, ThrottleHit, User
from portal.services import (
    connections,
    domains,
    email_preview,
    recovery_email,
    settings,
    throttle,
)
from portal.services.email_design import Design

LIMIT = 5  # test emails per merchant...
WINDOW = timedelta(minutes=10)  # ...in this long,
DAILY_LIMIT = 30  # and at most this many a day: the text is the user's, and so is the address
DAY = timedelta(days=1)
SUBJECT_PREFIX = "[Test] "
# The same test email again sooner is a double click, or its answer page reloaded (without
# JavaScript the answer is the form's POST, which a reload sends again): it goes out once.
AGAIN_WITHIN = timedelta(minutes=1)


def recent(merchant: Merchant, limit: int = 5) -> list[TestSend]:
    """The merchant's latest `limit` test emails, newest first."""
    return list(
        db.session.scalars(
            select(TestSend)
            .where(TestSend.merchant_id == merchant.id)
            .order_by(TestSend.id.desc())
            .limit(limit)
        )
    )


def refusal(merchant: Merchant) -> str | None:
    """Why the merchant may not send another test email now, in words; None: it may."""
    key = _key(merchant.id)
    if throttle.count(key, WINDOW) >= LIMIT:
        minutes = int(WINDOW.total_seconds() // 60)
        return (
            f"Nothing was sent: your team can send {LIMIT} test emails every {minutes} "
            "minutes. Please try again in a few minutes."
        )
    if throttle.count(key, DAY) >= DAILY_LIMIT:
        return (
            f"Nothing was sent: your team has sent {DAILY_LIMIT} test emails in the last 24 "
            "hours, the most for one day. Please try again tomorrow."
        )
    return None


def just_asked(user: User, step: int, design: Design) -> bool:
    """Whether `user` asked for this very test email within AGAIN_WITHIN (a double click, a
    second submit before the page answered, the answer reloaded): the first one is on its way,
    so nothing more is sent."""
    latest = db.session.scalar(
        select(TestSend)
        .where(
            TestSend.merchant_id == user.merchant_id,
            TestSend.user_id == user.id,
            TestSend.created_at >= utcnow() - AGAIN_WITHIN,
        )
        .order_by(TestSend.id.desc())
        .limit(1)
    )
    return (
        latest is not None
        and latest.status != TestSendStatus.FAILED  # told to send it again: it is sent
        and (latest.step, latest.design) == (step, _stored(design))
    )


def request(merchant: Merchant, user: User, step: int, design: Design) -> TestSend | None:
    """A queued test email of `design` (checked by email_design.problems first) to `user`, or
    None when `refusal` says why not. Commits the count before reading it (as
    invitations.invite does): of many requests at once no more than the limit's worth go, and a
    refused one is uncounted. The caller commits the email, then queues `deliver(id)`."""
    key = _key(merchant.id)
    counted = throttle.hit(key)
    db.session.commit()
    if throttle.count(key, WINDOW) > LIMIT or throttle.count(key, DAY) > DAILY_LIMIT:
        throttle.withdraw([counted])
        db.session.commit()  # a refusal must not count against the next try
        return None
    test = TestSend(
        merchant_id=merchant.id,
        user_id=user.id,
        step=step,
        to_address=user.email,
        design=_stored(design),
        status=TestSendStatus.QUEUED,
    )
    db.session.add(test)
    db.session.flush()
    return test


def deliver(test_send_id: int) -> str | None:
    """Render, compose and send one queued test email, and record the server's answer. Safe to
    run twice: the test is claimed (queued to sending, committed) before the server is asked,
    so only one run sends it; a run that finds it still claimed by a try that stopped before
    keeping the answer records that it may have arrived, and sends nothing. Commits: the claim
    and the answer must hold whatever the caller does next. Returns the new status, or None
    if nothing was done."""
    test = db.session.get(TestSend, test_send_id)
    if test is not None and test.status == TestSendStatus.SENDING:
        _end(test, TestSendStatus.FAILED, OWN_WORDS + UNKNOWN_WORDS)
        return test.status
    if test is None or not _claim(test):
        return None
    _end(test, *_send(test))
    return test.status


def _claim(test: TestSend) -> bool:
    """Whether this run sends `test`: one conditional statement decides which of two runs
    does (the other changes no row). Commits: the claim holds before the mail server hears."""
    claimed = db.session.execute(
        update(TestSend)
        .where(TestSend.id == test.id, TestSend.status == TestSendStatus.QUEUED)
        .values(status=TestSendStatus.SENDING)
    ).rowcount
    db.session.commit()
    return claimed == 1


def _end(test: TestSend, status: TestSendStatus, detail: str) -> None:
    """Record what came of `test`. Commits (as deliver does): the page shows it at once."""
    test.status, test.detail, test.finished_at = status, detail, utcnow()
    db.session.commit()


# A failure in the portal's own words (not a mail server's answer) is stored with this mark.
OWN_WORDS = "portal: "
UNKNOWN_WORDS = (
    "The mail server stopped answering while taking it, so it may have arrived: look in your "
    "inbox before sending another."
)


def fail(test_send_id: int, reason: str) -> None:
    """Record that a queued test email will not be sent, in words for the user (the portal's,
    not a mail server's: the page shows them as such); one claimed by a worker that stopped
    is recorded as one that may have arrived. The caller commits."""
    test = db.session.get(TestSend, test_send_id)
    if test is None or test.status not in (TestSendStatus.QUEUED, TestSendStatus.SENDING):
        return
    # A claimed test was in the mail server's hands when its worker stopped: it may be there.
    said = reason if test.status == TestSendStatus.QUEUED else UNKNOWN_WORDS
    test.status, test.detail, test.finished_at = TestSendStatus.FAILED, OWN_WORDS + said, utcnow()


def not_queued(test_send_id: int) -> None:
    """The queue could not take a test email: it failed before anything was tried, so it does
    not count against the merchant's limit. The caller commits."""
    fail(test_send_id, "Not sent: the portal could not queue it just then. Send it again.")
    test = db.session.get(TestSend, test_send_id)
    latest = db.session.scalar(
        select(ThrottleHit)
        .where(ThrottleHit.key == _key(test.merchant_id))
        .order_by(ThrottleHit.id.desc())
        .limit(1)
    )
    if latest is not None:
        throttle.withdraw([latest])


def _send(test: TestSend) -> tuple[TestSendStatus, str]:
    merchant = db.session.get(Merchant, test.merchant_id)
    sending = settings.settings_for(merchant.id)
    design = _design(test.design)
    sample = email_preview.Sample(
        current_app.config["PUBLIC_URL"], email_preview.has_promotion(sending, test.step)
    )
    account = connections.connected_account(merchant)
    rendered = email_preview.preview(merchant, sending, account, design, sample)
    rendered = replace(rendered, subject=SUBJECT_PREFIX + rendered.subject)
    try:
        message = recovery_email.message_for(
            rendered,
            test.to_address,
            recovery_email.new_message_id(),
            merchant,
            sending,
            unsubscribe_url=None,  # a test has no list to leave
            domain=domains.current(merchant),  # signed as real emails are, once verified
        )
    except (HeaderInjection, ValueError) as exc:
        return TestSendStatus.FAILED, f"not composed: {exc}"
    db.session.commit()  # only read so far: no transaction is held while the server answers
    result = delivery.send(message, merchant.id)
    if result.status == DeliveryStatus.UNKNOWN:  # the reply was lost, not the message
        return TestSendStatus.FAILED, OWN_WORDS + UNKNOWN_WORDS
    answer = result.detail or ""
    if result.code is not None and f"{result.code} " not in answer:  # the code, said once
        answer = f"{result.code} {answer}".strip()
    status = TestSendStatus.SENT if result.status == DeliveryStatus.SENT else TestSendStatus.FAILED
    return status, answer[:2000]


def _stored(design: Design) -> dict:
    return {**asdict(design.content), "logo_url": design.logo_url, "color": design.brand_color}


def _design(stored: dict) -> Design:
    content = texts.Content(**{f.name: str(stored.get(f.name, "")) for f in fields(texts.Content)})
    return Design(content, stored.get("logo_url") or None, str(stored.get("color", "")))


def _key(merchant_id: int) -> str:
    return f"test-send:{merchant_id}"
