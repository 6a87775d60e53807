"""The recovery engine: decide each due case with the rules, re-check with Stripe, have the
step sent, and schedule the next one. The database is the schedule.

The flow is one way: this module reads a case through case_context.py, decides with rules.py,
hands a step to sending.py, and records what comes next; none of those call back here."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy import select

from portal import db
from portal.db import utcnow
from portal.models import CaseStatus, CheckoutSession, RecoveryCase, SendStatus
from portal.services import addresses, case_context, rules, sending, stripe_gateway, trace
from portal.services.case_context import Context

RECHECK_DELAYS = [timedelta(minutes=m) for m in (1, 5, 15, 60, 180)]
# Portal rules that would keep a cart un-emailed: Stripe is asked first whether a later checkout
# (its rule 4, which comes first) stops it, so that the trace names that gate, and the holdout
# group holds only carts that were eligible (else the lift compares unlike groups).
ASK_STRIPE_FIRST = (rules.Reason.HOLDOUT, rules.Reason.FREQUENCY_CAP)


def due_case_ids(now: datetime, limit: int = 500) -> list[int]:
    """Cases whose next look is due, oldest first."""
    return list(
        db.session.scalars(
            select(RecoveryCase.id)
            .where(
                RecoveryCase.status.in_(CaseStatus.active()), RecoveryCase.next_action_at <= now
            )
            .order_by(RecoveryCase.next_action_at)
            .limit(limit)
        )
    )


def process(case_id: int, now: datetime | None = None, *, looked_again: bool = False) -> str:
    """Look at one case: record a skip or a wait, or re-check with Stripe, send the next email
    and schedule the one after; returns what happened. Safe to run twice or concurrently: the
    send row's unique key allows one send. Commits: what it learnt and did holds before the
    next call to Stripe or the SMTP server (services/__init__.py)."""
    now = now or utcnow()
    ctx = case_context.load(case_id)
    if ctx is None or ctx.case.status not in CaseStatus.active():
        return "inactive"
    known = case_context.facts(ctx)
    decision = rules.decide(known, ctx.policy, now)
    if decision.action == rules.Action.SEND:
        # No transaction is held across a call to Stripe: on SQLite a read snapshot that other
        # writes overtook meanwhile could not write afterwards ("database is locked").
        db.session.commit()
        try:
            known, items, moved = _recheck(ctx, known)
        except (stripe_gateway.StripeError, stripe_gateway.GatewayError, ValueError) as error:
            why = stripe_gateway.refusal(error)
            if why != "not_found":
                return _recheck_later(ctx.case, now, why)
            # No such session for this merchant's key: whatever a webhook said, nothing to send.
            known, items, moved = replace(known, known_to_stripe=False), [], False
        if moved:  # Stripe holds another address: what was loaded for the old one is moot
            db.session.commit()
            return "address_changed" if looked_again else process(case_id, now, looked_again=True)
        trace.note(ctx.case, trace.RECHECKED, now, later=known.later_session, step=decision.step)
        ctx, known = _as_now(ctx, known)
        decision = rules.decide(known, ctx.policy, now)
    elif decision.reason in ASK_STRIPE_FIRST:
        if (known := _with_later_session(ctx, known, now)) is None:
            return "stripe_unavailable"
        decision = rules.decide(known, ctx.policy, now)
    if decision.action != rules.Action.SEND:
        case_context.record(ctx.case, decision, now)
        db.session.commit()
        return str(decision.reason or decision.action)
    return _send_and_schedule(ctx, known, decision, items, now)


def _recheck(ctx: Context, known: rules.Facts) -> tuple[rules.Facts, list[dict], bool]:
    """Stripe's word just before a send: the shopper's later sessions, then, unless those stop
    the case, the session itself (its mode, address, consent and recovery link are taken from
    Stripe, never from a webhook alone) and its cart. Also whether the address changed.
    Raises when Stripe cannot say."""
    known = replace(known, later_session=case_context.later_session(ctx))
    if rules.stop_reason(known, ctx.policy):
        return known, [], False
    items, moved = case_context.confirm_with_stripe(ctx)
    held = ctx.session
    known = replace(
        known,
        livemode=held.livemode,
        email=held.email,
        consent=held.consent_promotions,
        recovery_url=held.recovery_url,
        recovery_expires_at=held.recovery_expires_at,
    )
    return known, items, moved


def _as_now(ctx: Context, known: rules.Facts) -> tuple[Context, rules.Facts]:
    """The case read again after the calls to Stripe, with Stripe's answers kept: what the
    portal learnt while they ran (an unsubscribe, a bounce, emails turned off, Stripe
    disconnected) stops this email too, not only the next."""
    db.session.flush()  # Stripe's answers, in the database before anything is read again
    if case_context.unchanged_since_load(ctx):  # the common case: one light query
        return ctx, known
    # The session keeps loaded objects across commits: a query alone would not refresh them.
    db.session.expire_all()
    fresh = case_context.load(ctx.case.id)
    if fresh is None:
        return ctx, known
    stripes = {"later_session": known.later_session, "known_to_stripe": known.known_to_stripe}
    return fresh, replace(case_context.facts(fresh), **stripes)


def _send_and_schedule(
    ctx: Context, known: rules.Facts, decision: rules.Decision, items: list[dict], now: datetime
) -> str:
    """Have the step sent, then decide what comes next from what the send changed. Commits
    (as process does): what the send came to holds before the next case or retry is taken."""
    send = sending.send_step(ctx, decision.step, case_context.recipient(ctx, decision), items, now)
    if send is None:
        return "already_claimed"
    after = replace(
        known,
        steps_done=known.steps_done | {decision.step},
        last_own_email_at=send.created_at,
        suppressed=known.suppressed or send.status == SendStatus.BOUNCED,
    )
    if send.status == SendStatus.SENT:
        ctx.case.emailed_at = ctx.case.emailed_at or send.sent_at
    # Traced after the send it follows (`now` is when the look began; a test's may be ahead).
    case_context.record(ctx.case, rules.decide(after, ctx.policy, now), max(now, utcnow()))
    db.session.commit()
    return str(send.status)


def _with_later_session(ctx: Context, known: rules.Facts, now: datetime) -> rules.Facts | None:
    """The facts with the shopper's later checkouts as Stripe lists them; None when Stripe
    could not say (the case looks again later, as before a send)."""
    db.session.commit()  # no transaction is held across a call to Stripe (see process)
    try:
        return replace(known, later_session=case_context.later_session(ctx))
    except (stripe_gateway.StripeError, stripe_gateway.GatewayError, ValueError) as error:
        _recheck_later(ctx.case, now, stripe_gateway.refusal(error))
        return None


def _recheck_later(case: RecoveryCase, now: datetime, why: str | None = None) -> str:
    """Stripe did not answer, or refused (`why`: stripe_gateway.refusal): never send blind,
    look again later. Commits (as process does): the deferral holds whatever comes next."""
    delay = RECHECK_DELAYS[min(case.attempts, len(RECHECK_DELAYS) - 1)]
    case.attempts += 1
    case.status, case.next_action_at = CaseStatus.SCHEDULED, now + delay
    trace.note(case, trace.RECHECK_FAILED, now, retry_at=case.next_action_at, why=why)
    db.session.commit()
    return "stripe_unavailable"


def reconsider(merchant_id: int, now: datetime | None = None, email: str | None = None) -> int:
    """Decide each of the merchant's waiting cases (with `email`: that shopper's) again, after
    its settings or the shopper's consent changed: a shorter delay, or quiet hours taken away,
    brings an email forward (due now: the next sweep sends it, re-checked as always), a longer
    one puts it back; a rule that now stops a case (an unsubscribe) stops it now, so its page
    says so at once. Nothing is sent here, and a case whose time stays is left as it is.
    Returns how many changed. Commits them: it runs after its caller's change is committed
    (a job, or the page that unsubscribed), and each case loaded locks nothing meanwhile."""
    now = now or utcnow()
    query = select(RecoveryCase.id).where(
        RecoveryCase.merchant_id == merchant_id,
        RecoveryCase.status == CaseStatus.SCHEDULED,
        RecoveryCase.next_action_at > now,
    )
    if email is not None:
        query = query.join(CheckoutSession, RecoveryCase.session).where(
            # The mirror keeps addresses in their one spelling: equality uses its index.
            CheckoutSession.email == addresses.normal(email)
        )
    waiting = db.session.scalars(query).all()
    changed = 0
    for case_id in waiting:
        ctx = case_context.load(case_id)
        decision = rules.decide(case_context.facts(ctx), ctx.policy, now)
        if decision.action == rules.Action.WAIT and decision.at == ctx.case.next_action_at:
            continue
        # Recorded, so the cart's timeline says when it is now due (a due one: the next sweep
        # re-checks it with Stripe, then sends).
        case_context.record(ctx.case, decision, now)
        changed += 1
    db.session.commit()
    return changed
