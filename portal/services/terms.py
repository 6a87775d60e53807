"""The cart-recovery terms: the current version and who accepted which."""

from __future__ import annotations

from sqlalchemy import select

from portal import db
from portal.models import Merchant, TermsAcceptance, User

# Bump when the terms text changes: every merchant must accept again before sending resumes.
CURRENT_VERSION = "2026-11-01"


def accept(
    merchant: Merchant, user: User | None, ip: str, version: str = CURRENT_VERSION
) -> TermsAcceptance:
    """Record the acceptance of `version` (once per merchant and version). The caller commits."""
    existing = db.session.scalar(
        select(TermsAcceptance).where(
            TermsAcceptance.merchant_id == merchant.id, TermsAcceptance.version == version
        )
    )
    if existing is not None:
        return existing
    acceptance = TermsAcceptance(
        merchant_id=merchant.id, user_id=user.id if user else None, version=version, ip=ip
    )
    db.session.add(acceptance)
    return acceptance


def accepted_current(merchant_id):
    """SQL truth of "this merchant accepted the current terms"; `merchant_id` is an id or a
    column (so a query over cases can ask it for each case's merchant)."""
    return (
        select(TermsAcceptance.id)
        .where(
            TermsAcceptance.merchant_id == merchant_id, TermsAcceptance.version == CURRENT_VERSION
        )
        .exists()
    )


def has_accepted_current(merchant: Merchant) -> bool:
    return bool(db.session.scalar(select(accepted_current(merchant.id))))
