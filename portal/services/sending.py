"""Sending one step of a case, at most once: the send row is claimed (committed) before the
SMTP server hears of it, and marked with what the server said after. Which step to send, and
whether to, is the recovery engine's decision (recovery.py); this module only carries it out."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value

from portal import db
from portal.db import utcnow
from portal.models import ConsentSource, ConsentStatus, Contact, EmailSend, RecoveryCase
from portal.models import SendStatus
from portal.mail import delivery
from portal.services import (
    case_context,
    consent,
    email_design,
    promotions,
    recovery_email,
    rules,
    stripe_gateway,
)
from portal.services.case_context import Context
from portal.mail.smtp import DeliveryResult, DeliveryStatus
from portal.mail.mime import HeaderInjection

DEFER_DELAYS = [timedelta(minutes=m) for m in (1, 5, 15, 30, 60, 120, 240)]
DEFER_LIMIT = timedelta(hours=24)
CLAIM_TIMEOUT = timedelta(minutes=10)  # a claim this old without a result: its worker died
NEVER_HANDED = "the worker stopped before the mail server heard of it: it is sent again"
MAYBE_DELIVERED = "the worker stopped while the mail server had it: it may have arrived"


def send_step(
    ctx: Context, step: int, to: str, items: list[dict], now: datetime
) -> EmailSend | None:
    """Claim, compose, deliver and record one step; the send row with its outcome, or None when
    the step was claimed before (by a retry, a second worker...) or the sweep took the claim
    back. Commits the claim, the promotion code before the email carries it, and the hand-off
    just before the SMTP server hears of the email."""
    send = _claim(ctx.case, step, to, now)
    if send is None:
        return None
    if ctx.policy.steps[step].promotion:
        send.promotion_code = promotions.mint(ctx)
        db.session.commit()
    return send if _send_claimed(send, ctx, items, now) else None


def _send_claimed(send: EmailSend, ctx: Context, items: list[dict], now: datetime) -> bool:
    """Compose a claimed send, hand it off and deliver it, recording the outcome; False when
    the sweep took the claim back before the hand-off (nothing was sent)."""
    message = _compose(send, ctx, items)
    if isinstance(message, DeliveryResult):  # it could not be composed: nothing to send
        record(send, message, now)
    elif _hand_off(send):
        record(send, delivery.send(message, ctx.merchant.id), now)
    else:
        return False
    return True


def _hand_off(send: EmailSend) -> bool:
    """Mark the claim as handed to the mail server, committed, unless the sweep took it back
    meanwhile (expire_claims); whether this worker may send it. One statement decides, so the
    sweep and the worker never both go on."""
    now = utcnow()
    handed = db.session.execute(
        update(EmailSend)
        .where(EmailSend.id == send.id, EmailSend.status == SendStatus.CLAIMED)
        .values(handed_at=now)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if handed.rowcount != 1:
        return False
    set_committed_value(send, "handed_at", now)
    return True


def deferred_due(now: datetime, limit: int = 200) -> list[int]:
    """Ids of the deferred sends whose next try is due, the longest waiting first (each is
    tried by retry_one)."""
    return list(
        db.session.scalars(
            select(EmailSend.id)
            .where(EmailSend.status == SendStatus.DEFERRED, EmailSend.next_attempt_at <= now)
            .order_by(EmailSend.next_attempt_at)
            .limit(limit)
        )
    )


def retry_one(send_id: int, now: datetime | None = None) -> bool:
    """Try a deferred send again, re-checked like a first attempt: local facts, then Stripe (a
    later checkout may have started or been paid meanwhile); while Stripe cannot say, wait,
    never send blind. It is claimed first, so that two tries at once never both go on, and its
    outcome is committed at once. False when it was not due or another try took it."""
    now = now or utcnow()
    send = _take_deferred(send_id, now)
    if send is None:
        return False
    _retry(send, case_context.load(send.case_id), now)
    db.session.commit()
    return True


def _take_deferred(send_id: int, now: datetime) -> EmailSend | None:
    """Claim a deferred send for one more try (committed), unless another sweep took it first.
    Its next_attempt_at then holds when it was claimed: expire_claims ages the claim from it."""
    taken = db.session.execute(
        update(EmailSend)
        .where(
            EmailSend.id == send_id,
            EmailSend.status == SendStatus.DEFERRED,
            EmailSend.next_attempt_at <= now,
        )
        .values(status=SendStatus.CLAIMED, next_attempt_at=utcnow(), handed_at=None)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if taken.rowcount != 1:
        return None
    return db.session.get(EmailSend, send_id, populate_existing=True)


def _retry(send: EmailSend, ctx: Context, now: datetime) -> None:
    """Try a deferred send again, after the checks its first try passed. Commits before Stripe
    is asked and once a promotion code is minted: the code must be kept before the email
    carrying it can go."""
    known = case_context.facts(ctx)
    if _outside_window(send, known, ctx, now):
        return
    reason = _stops(known, ctx)
    if reason is None:
        db.session.commit()  # no transaction is held across a call to Stripe (see recovery.py)
        try:
            reason = _stops(replace(known, later_session=case_context.later_session(ctx)), ctx)
            # The address was confirmed with Stripe when the send was claimed.
            items = [] if reason else case_context.confirm_with_stripe(ctx)[0]
        except (stripe_gateway.StripeError, stripe_gateway.GatewayError, ValueError):
            # Stripe must answer first: look again soon.
            send.status, send.next_attempt_at = SendStatus.DEFERRED, now + DEFER_DELAYS[0]
            return
    if reason:
        send.status, send.next_attempt_at = SendStatus.FAILED, None
        send.last_error = f"{rules.CANCELLED_BEFORE_RETRY}{reason}"
        return
    send.attempts += 1
    steps = ctx.policy.steps
    if send.promotion_code is None and send.step < len(steps) and steps[send.step].promotion:
        send.promotion_code = promotions.mint(ctx)  # its claim died before it had one
        db.session.commit()
    if not _send_claimed(send, ctx, items, now):
        return
    if send.status == SendStatus.SENT:
        ctx.case.emailed_at = ctx.case.emailed_at or send.sent_at


def _outside_window(send: EmailSend, known: rules.Facts, ctx: Context, now: datetime) -> bool:
    """Give up a retry 24 h after the first try or once the recovery link is dead; wait out
    quiet hours that began meanwhile (deferred, never dropped). True when not tried now."""
    resume = rules.outside_quiet_hours(now, ctx.policy, rules.quiet_clock(known, ctx.policy))
    ends = [send.created_at + DEFER_LIMIT, known.recovery_expires_at or now + DEFER_LIMIT]
    if max(resume, now) >= min(ends):
        send.status, send.next_attempt_at = SendStatus.FAILED, None
        send.last_error = (
            f"{rules.CANCELLED_BEFORE_RETRY}{rules.Reason.RECOVERY_URL_EXPIRED}"
            if min(ends) == ends[1]
            else f"{rules.GAVE_UP_AFTER_A_DAY}{send.last_error or 'none'}"
        )
        return True
    if resume > now:
        send.status, send.next_attempt_at = SendStatus.DEFERRED, resume
        return True
    return False


def _stops(known: rules.Facts, ctx: Context) -> rules.Reason | None:
    """The rule that now stops a deferred send, if any (bought, unsubscribed, bounced...)."""
    reason = rules.stop_reason(known, ctx.policy)
    # A team copy of a test-mode cart is on its way: turning team sends off stops only new ones.
    return None if reason == rules.Reason.TEST_MODE else reason


def _claim(case: RecoveryCase, step: int, to: str, now: datetime) -> EmailSend | None:
    """The committed send row for (case, step), or None if it was claimed before."""
    send = EmailSend(
        merchant_id=case.merchant_id,
        case_id=case.id,
        step=step,
        to_address=to,
        status=SendStatus.CLAIMED,
        message_id=recovery_email.new_message_id(),
        # The design in use now is the one this email gets, whenever its delivery succeeds.
        # (a subquery of the claim's INSERT: no round trip of its own)
        email_version_id=email_design.current_id_query(case.merchant_id, step),
        attempts=1,
        created_at=now,
    )
    db.session.add(send)
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return None
    return send


def _compose(send: EmailSend, ctx: Context, items: list[dict]):
    """The message for the send, or the failed result that stands for it."""
    try:
        return recovery_email.recovery_message(
            send, ctx.session, ctx.merchant, ctx.settings, ctx.account, items, ctx.domain
        )
    except (HeaderInjection, ValueError) as exc:  # e.g. a malformed reply-to: nothing was sent
        return DeliveryResult(DeliveryStatus.FAILED, None, f"not composed: {exc}")


def record(send: EmailSend, result: DeliveryResult, now: datetime) -> None:
    """Mark the send with the server's answer; a bounce suppresses the address."""
    send.last_error = None if result.status == DeliveryStatus.SENT else result.detail[:2000]
    retry_at = now + DEFER_DELAYS[min(send.attempts - 1, len(DEFER_DELAYS) - 1)]
    if result.status == DeliveryStatus.DEFERRED:
        if retry_at < send.created_at + DEFER_LIMIT:
            send.status, send.next_attempt_at = SendStatus.DEFERRED, retry_at
            return
        send.last_error = f"{rules.GAVE_UP_AFTER_A_DAY}{send.last_error}"[:2000]
    send.next_attempt_at = None
    send.status = {
        DeliveryStatus.SENT: SendStatus.SENT,
        DeliveryStatus.BOUNCED: SendStatus.BOUNCED,
        DeliveryStatus.UNKNOWN: SendStatus.UNKNOWN,
    }.get(result.status, SendStatus.FAILED)
    if send.status == SendStatus.SENT:
        send.sent_at = now
    if send.status == SendStatus.BOUNCED:
        suppress(send.merchant_id, send.to_address, f"bounced: {result.detail}"[:200], now)


def suppress(merchant_id: int, email: str, reason: str, now: datetime) -> None:
    """Never email this address for this merchant again, and say why in the ledger."""
    consent.record(
        [
            consent.Change(
                merchant_id,
                email,
                ConsentStatus.UNSUBSCRIBED,
                ConsentSource.BOUNCE,
                f"bounce-{now.isoformat()}",
                now,
            )
        ]
    )
    db.session.flush()
    db.session.execute(
        update(Contact)
        .where(Contact.merchant_id == merchant_id, Contact.email == email)
        .values(suppressed_at=now, suppressed_reason=reason)
    )


def expire_claims(now: datetime | None = None) -> int:
    """Claims that never got a result (the worker died mid-send): one the mail server never
    heard of (not handed off) is tried again like a deferral, re-checked first; one it may
    have taken becomes unknown, never resent. Commits, like retry_one: the periodic
    work's steps each hold on their own. Returns how many claims ended."""
    now = now or utcnow()
    # A first claim's age counts from its creation, a retry's from when it was taken.
    claimed_at = func.coalesce(EmailSend.next_attempt_at, EmailSend.created_at)
    stale = (EmailSend.status == SendStatus.CLAIMED, claimed_at < now - CLAIM_TIMEOUT)
    again = db.session.execute(
        update(EmailSend)
        .where(*stale, EmailSend.handed_at.is_(None))
        .values(status=SendStatus.DEFERRED, next_attempt_at=now, last_error=NEVER_HANDED)
    )
    unknown = db.session.execute(
        update(EmailSend)
        .where(*stale, EmailSend.handed_at.is_not(None))
        .values(status=SendStatus.UNKNOWN, last_error=MAYBE_DELIVERED)
    )
    db.session.commit()
    return (again.rowcount or 0) + (unknown.rowcount or 0)
