"""Abandoned carts as a merchant reads them: each expired session, its decision, its emails."""
from __future__ import annotations

from sqlalchemy import Select, select

from portal import db
from portal.models import CheckoutSession, EmailSend, RecoveryCase

# The decision trace in words (SPEC section 3): why a cart was, or was not, emailed.
REASONS = {
    "sequence_finished": "Emails sent",
    "test_mode": "Test-mode session: recorded, never emailed",
    "merchant_disabled": "Recovery emails were off, or Stripe/terms not ready",
    "no_consent": "The shopper did not agree to marketing emails",
    "no_email": "No complete email address", "no_recovery_url": "Stripe gave no recovery link",
    "recovery_url_expired": "The recovery link expired first",
    "unsubscribed": "The address is unsubscribed", "suppressed": "The address bounced before",
    "later_session": "The shopper started a later checkout",
    "completed_elsewhere": "The shopper bought in a later checkout",
    "holdout": "Kept un-emailed (holdout group)",
    "frequency_cap": "Another email went to this address recently",
}


def describe(case: RecoveryCase) -> str:
    """The decision of a case in a sentence."""
    if case.recovered_at is not None:
        return "Emailed, then bought" if case.recovered_step is not None else "Bought again on its own"
    if case.status in ("new", "scheduled"):
        return "Waiting to send" if case.next_action_at else "Deciding"
    return REASONS.get(case.reason or "", case.reason or case.status)


def recent(scoped: Select, recovered_only: bool = False, limit: int = 200) -> list[RecoveryCase]:
    """The newest cases of `scoped` (the merchant's own cases: tenancy.owned(RecoveryCase))."""
    stmt = scoped.join(RecoveryCase.session).order_by(RecoveryCase.id.desc()).limit(limit)
    if recovered_only:
        stmt = stmt.where(RecoveryCase.recovered_at.is_not(None))
    return list(db.session.scalars(stmt))


def sends(case: RecoveryCase) -> list[EmailSend]:
    return list(db.session.scalars(select(EmailSend).where(EmailSend.case_id == case.id)
                                   .order_by(EmailSend.step)))


def recovering_session(case: RecoveryCase) -> CheckoutSession | None:
    if not case.recovered_session_id:
        return None
    return db.session.scalar(select(CheckoutSession).where(
        CheckoutSession.session_id == case.recovered_session_id,
        CheckoutSession.merchant_id == case.merchant_id))
