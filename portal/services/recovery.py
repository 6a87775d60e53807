"""The recovery engine: decide each due case with the rules, re-check with Stripe, claim the
send row, deliver, record, and schedule the next step. The database is the schedule."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import lru_cache

from sqlalchemy import bindparam, or_, select

from portal import db
from portal.db import utcnow
from portal.models import (CheckoutSession, Contact, EmailSend, Merchant, RecoveryCase,
                           SendingSettings, StripeAccount, User)
from portal.services import rules, stripe_gateway, terms

ACTIVE = ("new", "scheduled")
RECHECK_DELAYS = [timedelta(minutes=m) for m in (1, 5, 15, 60, 180)]


@dataclass
class Context:
    """Everything one case's decision reads."""

    case: RecoveryCase
    session: CheckoutSession
    merchant: Merchant
    settings: SendingSettings
    account: StripeAccount | None
    policy: rules.Policy
    contact: Contact | None = None   # the shopper's consent-ledger entry with this merchant


def settings_for(merchant_id: int) -> SendingSettings:
    """The merchant's sending settings, created with the defaults on first use."""
    settings = db.session.get(SendingSettings, merchant_id)
    if settings is None:
        settings = SendingSettings(merchant_id=merchant_id)
        db.session.add(settings)
        db.session.flush()
    return settings


def policy_for(merchant: Merchant, settings: SendingSettings, account: StripeAccount | None,
               terms_accepted: bool) -> rules.Policy:
    quiet = (settings.quiet_start, settings.quiet_end) if settings.quiet_start is not None \
        and settings.quiet_end is not None else None
    steps = tuple(rules.Step(timedelta(minutes=int(s["delay_minutes"])), bool(s.get("promotion")))
                  for s in settings.steps[:rules.MAX_STEPS])
    return rules.Policy(
        connected=account is not None and account.is_connected,
        terms_accepted=terms_accepted, enabled=merchant.recovery_enabled,
        steps=steps, quiet_hours=quiet, timezone=settings.timezone,
        frequency_cap=timedelta(hours=settings.frequency_cap_hours),
        holdout_share=settings.holdout_percent / 100, test_mode=settings.test_mode)


def load(case_id: int) -> Context | None:
    """The case and all its decision reads but the sends, in one query (the case's session,
    merchant, settings, Stripe account, terms, the shopper's contact), or None if no such case."""
    row = db.session.execute(_load_statement(), {"case_id": case_id}).first()
    if row is None:
        return None
    case, session, merchant, settings, account, contact, terms_accepted = row
    settings = settings or settings_for(merchant.id)
    return Context(case, session, merchant, settings, account,
                   policy_for(merchant, settings, account, terms_accepted), contact)


@lru_cache(maxsize=1)
def _load_statement():
    """load()'s query, built once per process with the case id bound at execution: building
    this join cost a worker more CPU than the database spent running it."""
    accepted = terms.accepted_current(RecoveryCase.merchant_id)
    return (select(RecoveryCase, CheckoutSession, Merchant, SendingSettings, StripeAccount, Contact, accepted)
            .join(CheckoutSession, CheckoutSession.id == RecoveryCase.checkout_session_id)
            .join(Merchant, Merchant.id == RecoveryCase.merchant_id)
            .outerjoin(SendingSettings, SendingSettings.merchant_id == RecoveryCase.merchant_id)
            .outerjoin(StripeAccount, StripeAccount.merchant_id == RecoveryCase.merchant_id)
            .outerjoin(Contact, (Contact.merchant_id == RecoveryCase.merchant_id)
                       & (Contact.email == CheckoutSession.email))
            .where(RecoveryCase.id == bindparam("case_id")))


def facts(ctx: Context, later_session: str | None = None) -> rules.Facts:
    """The rules' facts from the database (and, at send time, from Stripe's re-check)."""
    session, case, contact = ctx.session, ctx.case, ctx.contact
    steps_done, last_other = _sends(case, session.email)
    return rules.Facts(
        session_id=session.session_id, livemode=session.livemode, email=session.email,
        consent=session.consent_promotions, recovery_url=session.recovery_url,
        recovery_expires_at=session.recovery_expires_at,
        # Stripe's clock may run ahead of ours (skew; the sandbox's after an advance): the delay
        # then counts from when we learnt of the expiry, never from a time still to come.
        expired_at=min(session.expired_at or session.expires_at or session.state_at, case.created_at),
        recovered=case.recovered_at is not None,
        unsubscribed=contact is not None and contact.status == "unsubscribed",
        suppressed=contact is not None and contact.suppressed_at is not None,
        later_session=later_session, steps_done=steps_done, last_other_email_at=last_other)


def _sends(case: RecoveryCase, email: str | None) -> tuple[frozenset[int], datetime | None]:
    """In one query: the steps this case has claimed, and when the merchant last emailed this
    address for another cart (the frequency cap)."""
    # Each arm matches an index, (case_id, step) and (merchant_id, to_address), whatever the
    # planner's statistics say; with the merchant outside the OR, PostgreSQL with stale
    # statistics read every send of the merchant for each email. A case's sends are its
    # merchant's, so the address arm alone needs the merchant.
    mine = EmailSend.case_id == case.id
    same_address = (EmailSend.merchant_id == case.merchant_id) & (EmailSend.to_address == email)
    rows = db.session.execute(select(EmailSend.case_id, EmailSend.step, EmailSend.created_at).where(
        or_(mine, same_address) if email else mine)).all()
    others = [created for case_id, _, created in rows if case_id != case.id]
    return frozenset(step for case_id, step, _ in rows if case_id == case.id), max(others, default=None)


def apply(case: RecoveryCase, decision: rules.Decision) -> None:
    """Record a decision on the case: the trace a merchant reads, and the schedule."""
    if decision.action in ("send", "wait"):
        case.status, case.next_action_at = "scheduled", decision.at
    else:
        case.status, case.next_action_at = ("skipped" if decision.action == "skip" else "done"), None
        case.reason = decision.reason


def due_case_ids(now: datetime, limit: int = 500) -> list[int]:
    """Cases whose next look is due, oldest first."""
    return list(db.session.scalars(select(RecoveryCase.id).where(
        RecoveryCase.status.in_(ACTIVE), RecoveryCase.next_action_at <= now)
        .order_by(RecoveryCase.next_action_at).limit(limit)))


def process(case_id: int, now: datetime | None = None) -> str:
    """Look at one case: record a skip or a wait, or re-check with Stripe and send the next
    email. Safe to run twice or concurrently: the send row's unique key allows one send."""
    from portal.services import sending

    now = now or utcnow()
    ctx = load(case_id)
    if ctx is None or ctx.case.status not in ACTIVE:
        return "inactive"
    case, known = ctx.case, facts(ctx)
    decision = rules.decide(known, ctx.policy, now)
    if decision.action == "send":
        try:
            known, decision, items = _recheck(ctx, known, now)
        except (stripe_gateway.StripeError, stripe_gateway.GatewayError) as exc:
            return _recheck_later(case, now, exc)
    if decision.action != "send":
        apply(case, decision)
        db.session.commit()
        return decision.reason or decision.action
    return sending.send_step(ctx, known, decision, items, now)


def _recheck(ctx: Context, known: rules.Facts, now: datetime) -> tuple[rules.Facts, rules.Decision, list[dict]]:
    """Ask Stripe for later sessions of the shopper (webhooks cannot see open ones) and for
    the cart's line items; decide again with what Stripe said."""
    known = replace(known, later_session=later_session(ctx))
    decision = rules.decide(known, ctx.policy, now)
    items = cart_items(ctx) if decision.action == "send" else []
    return known, decision, items


def later_session(ctx: Context) -> str | None:
    """Stripe's word on the shopper's sessions created after this one (webhooks cannot see open
    ones): the status of the most telling, or None. Raises when Stripe cannot say."""
    session = ctx.session
    return stripe_gateway.later_session_status(
        ctx.account, session.session_id, int(session.created_at.timestamp()), session.customer,
        session.email, session.livemode)


def cart_items(ctx: Context) -> list[dict]:
    """The cart's line items as Stripe has them (raises when Stripe cannot say)."""
    return stripe_gateway.line_items(ctx.account, ctx.session.session_id, ctx.session.livemode)


def _recheck_later(case: RecoveryCase, now: datetime, exc: Exception) -> str:
    """Stripe did not answer: never send blind, look again later."""
    delay = RECHECK_DELAYS[min(case.attempts, len(RECHECK_DELAYS) - 1)]
    case.attempts += 1
    case.status, case.next_action_at = "scheduled", now + delay
    db.session.commit()
    return "stripe_unavailable"


def owner_address(merchant_id: int) -> str | None:
    """Where a test-mode session's email goes when the merchant asked for team sends."""
    return db.session.scalar(select(User.email).where(
        User.merchant_id == merchant_id, User.role == "owner").order_by(User.id))


