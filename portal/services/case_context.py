"""One recovery case as the engine sees it: the case with everything its decision reads, the
rules' facts, Stripe's word at send time, and the recording of a decision. The recovery engine
(recovery.py) and the sender (sending.py) both read cases through here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from flask import current_app
from sqlalchemy import bindparam, exists, or_, select

from portal import db
from portal.models import (
    CaseStatus,
    CheckoutSession,
    ConsentStatus,
    Contact,
    EmailSend,
    ErasedAddress,
    Merchant,
    RecoveryCase,
    Role,
    SendingDomain,
    SendingSettings,
    StripeAccount,
    User,
)
from portal.services import (
    addresses,
    erasure,
    rules,
    sessions,
    stripe_gateway,
    terms,
    trace,
    zone_table,
)
from portal.services.settings import policy_for, settings_for


@dataclass
class Context:
    """Everything one case's decision reads."""

    case: RecoveryCase
    session: CheckoutSession
    merchant: Merchant
    settings: SendingSettings
    account: StripeAccount | None
    policy: rules.Policy
    contact: Contact | None = None  # the shopper's consent-ledger entry with this merchant
    domain: SendingDomain | None = None  # the merchant's own sending domain, if any
    erased: bool = False  # the merchant erased this address on request: never email it


def load(case_id: int) -> Context | None:
    """The case and all its decision reads but the sends, in one query (the case's session,
    merchant, settings, Stripe account, terms, the shopper's contact), or None if no such case."""
    row = db.session.execute(_load_statement(), {"case_id": case_id}).first()
    if row is None:
        return None
    case, session, merchant, settings, account, contact, domain, terms_accepted, erasures = row
    settings = settings or settings_for(merchant.id)
    # Only a merchant who ever erased an address pays for a lookup (by keyed hash).
    erased = bool(erasures and session.email) and erasure.is_erased(
        merchant.id, session.email, current_app.config["SECRET_KEY"]
    )
    return Context(
        case,
        session,
        merchant,
        settings,
        account,
        policy_for(merchant, settings, account, terms_accepted),
        contact,
        domain,
        erased,
    )


def unchanged_since_load(ctx: Context) -> bool:
    """Whether what the portal may learn during a call to Stripe (the shopper's unsubscribe
    or bounce, emails turned off, Stripe disconnected) is still as `ctx` loaded it: one light
    query, so that a send need not read the whole case again."""
    row = db.session.execute(_watch_statement(), {"case_id": ctx.case.id}).one_or_none()
    contact, account = ctx.contact, ctx.account
    held = (
        ctx.merchant.recovery_enabled,
        contact.status if contact else None,
        contact.suppressed_at if contact else None,
        account.id if account else None,
    )
    return row is not None and tuple(row) == held


@lru_cache(maxsize=1)
def _watch_statement():
    """unchanged_since_load()'s query, built once per process (see _load_statement)."""
    watched = (Merchant.recovery_enabled, Contact.status, Contact.suppressed_at, StripeAccount.id)
    return _case_joins(select(*watched).select_from(RecoveryCase))


def _case_joins(query):
    """`query` joined to the case's session, merchant, Stripe account and the shopper's
    contact, for the case of id :case_id."""
    return (
        query.join(CheckoutSession, CheckoutSession.id == RecoveryCase.checkout_session_id)
        .join(Merchant, Merchant.id == RecoveryCase.merchant_id)
        .outerjoin(StripeAccount, StripeAccount.merchant_id == RecoveryCase.merchant_id)
        .outerjoin(
            Contact,
            (Contact.merchant_id == RecoveryCase.merchant_id)
            & (Contact.email == CheckoutSession.email),
        )
        .where(RecoveryCase.id == bindparam("case_id"))
    )


@lru_cache(maxsize=1)
def _load_statement():
    """load()'s query, built once per process with the case id bound at execution: building
    this join cost a worker more CPU than the database spent running it."""
    accepted = terms.accepted_current(RecoveryCase.merchant_id)
    query = select(
        RecoveryCase,
        CheckoutSession,
        Merchant,
        SendingSettings,
        StripeAccount,
        Contact,
        SendingDomain,
        accepted,
        exists().where(ErasedAddress.merchant_id == RecoveryCase.merchant_id),
    )
    return (
        _case_joins(query)
        .outerjoin(SendingSettings, SendingSettings.merchant_id == RecoveryCase.merchant_id)
        .outerjoin(SendingDomain, SendingDomain.merchant_id == RecoveryCase.merchant_id)
    )


def facts(ctx: Context, later_session: str | None = None) -> rules.Facts:
    """The rules' facts from the database (and, at send time, from Stripe's re-check)."""
    session, case, contact = ctx.session, ctx.case, ctx.contact
    steps_done, last_other, last_own = _sends(case, session.email)
    return rules.Facts(
        **session_facts(case, session),
        recovered=case.recovered_at is not None,
        unsubscribed=contact is not None and contact.status == ConsentStatus.UNSUBSCRIBED,
        suppressed=ctx.erased or (contact is not None and contact.suppressed_at is not None),
        later_session=later_session,
        steps_done=steps_done,
        last_other_email_at=last_other,
        last_own_email_at=last_own,
    )


def session_facts(case: RecoveryCase, session: CheckoutSession) -> dict:
    """The facts the expired session itself gives, the same for a send and for a dry run."""
    return dict(
        session_id=session.session_id,
        livemode=session.livemode,
        email=session.email,
        consent=session.consent_promotions,
        recovery_url=session.recovery_url,
        recovery_expires_at=session.recovery_expires_at,
        expired_at=expired_at(case, session),
        shopper_timezone=zone_table.country_zone(session.country),
    )


def expired_at(case: RecoveryCase, session: CheckoutSession) -> datetime:
    """When the delays count from: the session's expiry, never later than when we learnt of it."""
    # Stripe's clock may run ahead of ours (skew; the sandbox's after an advance): the delay
    # then counts from when we learnt of the expiry, never from a time still to come.
    return min(session.expired_at or session.expires_at or session.state_at, case.created_at)


def _sends(
    case: RecoveryCase, email: str | None
) -> tuple[frozenset[int], datetime | None, datetime | None]:
    """In one query: the steps this case has claimed, when the merchant last emailed this
    address for another cart (the frequency cap), and when this case's latest email went."""
    # Each arm matches an index, (case_id, step) and (merchant_id, to_address), whatever the
    # planner's statistics say; with the merchant outside the OR, PostgreSQL with stale
    # statistics read every send of the merchant for each email. A case's sends are its
    # merchant's, so the address arm alone needs the merchant.
    mine = EmailSend.case_id == case.id
    same_address = (EmailSend.merchant_id == case.merchant_id) & (EmailSend.to_address == email)
    rows = db.session.execute(
        select(EmailSend.case_id, EmailSend.step, EmailSend.created_at).where(
            or_(mine, same_address) if email else mine
        )
    ).all()
    others = [created for case_id, _, created in rows if case_id != case.id]
    own = [(step, created) for case_id, step, created in rows if case_id == case.id]
    steps = frozenset(step for step, _ in own)
    return steps, max(others, default=None), max((at for _, at in own), default=None)


def later_session(ctx: Context) -> str | None:
    """Stripe's word on the shopper's sessions created after this one (webhooks cannot see open
    ones): the status of the most telling, or None. Raises when Stripe cannot say."""
    session = ctx.session
    return stripe_gateway.later_session_status(
        ctx.account,
        session.session_id,
        int(session.created_at.timestamp()),
        session.customer,
        session.email,
        session.livemode,
    )


def confirm_with_stripe(ctx: Context) -> tuple[list[dict], bool]:
    """The cart's line items as Stripe has them, with the session's address, consent and
    recovery link replaced by Stripe's (sessions.confirm); and whether the address changed.
    Raises when Stripe cannot say."""
    stripes, items = stripe_gateway.session_and_cart(
        ctx.account, ctx.session.session_id, ctx.session.livemode
    )
    changed = sessions.confirm(ctx.session, stripes)
    ctx.session.cart = sessions.cart_kept(items)
    return items, changed


# Decisions only taken past the holdout draw: the case was eligible, in one group or the other.
PAST_DRAW = (
    rules.Reason.HOLDOUT,
    rules.Reason.FREQUENCY_CAP,
    rules.Reason.RECOVERY_URL_EXPIRED,
    rules.Reason.SEQUENCE_FINISHED,
)


def record(case: RecoveryCase, decision: rules.Decision, now: datetime) -> None:
    """Record a decision on the case: the trace a merchant reads, the holdout group it fell in
    (once, at the draw), and the schedule."""
    trace.note(
        case,
        trace.DECIDED,
        now,
        action=str(decision.action),
        reason=decision.reason and str(decision.reason),
        step=decision.step,
        at=decision.at,
    )
    scheduled = decision.action in (rules.Action.SEND, rules.Action.WAIT)
    if case.holdout is None and (scheduled or decision.reason in PAST_DRAW):
        case.holdout = decision.reason == rules.Reason.HOLDOUT
    if decision.action in (rules.Action.SEND, rules.Action.WAIT):
        case.status, case.next_action_at = CaseStatus.SCHEDULED, decision.at
    else:
        case.status = (
            CaseStatus.SKIPPED if decision.action == rules.Action.SKIP else CaseStatus.DONE
        )
        case.next_action_at, case.reason = None, decision.reason


def recipient(ctx: Context, decision: rules.Decision) -> str | None:
    """Who gets this step: the shopper; for a test-mode session sent to the team, the team
    member who checked out (their own address), else the owner: never anyone outside it."""
    if not decision.to_team:
        return ctx.session.email
    team = db.session.execute(
        select(User.email, User.role).where(User.merchant_id == ctx.merchant.id).order_by(User.id)
    ).all()
    # One spelling on both sides: a member's address is kept as typed (ASCII, a domain's xn--
    # form too), a checkout's in its letters ("bücher.example").
    shopper = addresses.normal(ctx.session.email)
    member = next((email for email, _ in team if addresses.normal(email) == shopper), None)
    return member or next((email for email, role in team if role == Role.OWNER), None)
