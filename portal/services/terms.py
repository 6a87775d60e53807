"""The cart-recovery terms: the current version, its text, and who accepted which."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import db
from portal.models import Merchant, TermsAcceptance, User

# Bump when the terms text changes, and add templates/terms/versions/<version>.html: every
# merchant must accept again before sending resumes. A version is named by the date it takes
# effect, so release it on or after that date.
CURRENT_VERSION = "2026-11-01"


@dataclass(frozen=True)
class Acceptance:
    """One recorded acceptance; `user` is None once that person has left the team."""

    version: str
    accepted_at: datetime
    ip: str
    user: User | None


@dataclass(frozen=True)
class Standing:
    """Where a merchant stands: its acceptance of the current version, if any, and every
    acceptance it made, newest first."""

    current: Acceptance | None
    history: list[Acceptance]

    @property
    def outdated(self) -> bool:
        """An earlier version was accepted, the current one not (sending is paused)."""
        return self.current is None and bool(self.history)


def text_template(version: str) -> str:
    """The template that holds the text of `version` (the files live with the code)."""
    return f"terms/versions/{version}.html"


def effective_date(version: str) -> date:
    """The day `version` takes effect: the date it is named by."""
    return date.fromisoformat(version)


def accept(
    merchant: Merchant, user: User | None, ip: str, version: str | None = None
) -> TermsAcceptance:
    """Record the acceptance of `version` (default: the current one) once per merchant and
    version: a second or concurrent call returns the first record. The caller commits."""
    version = version or CURRENT_VERSION
    existing = _acceptance(merchant, version)
    if existing is not None:
        return existing
    acceptance = TermsAcceptance(
        merchant_id=merchant.id, user_id=user.id if user else None, version=version, ip=ip
    )
    try:
        with db.session.begin_nested():  # a double click from two tabs: the unique key decides
            db.session.add(acceptance)
    except IntegrityError:
        return _acceptance(merchant, version)
    return acceptance


def _acceptance(merchant: Merchant, version: str) -> TermsAcceptance | None:
    return db.session.scalar(
        select(TermsAcceptance).where(
            TermsAcceptance.merchant_id == merchant.id, TermsAcceptance.version == version
        )
    )


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
    """Whether this merchant accepted the current version."""
    return bool(db.session.scalar(select(accepted_current(merchant.id))))


def needs_acceptance(merchant: Merchant) -> bool:
    """True until the merchant accepts the current version (never accepted any, or only earlier
    ones); while True no recovery email is sent for it."""
    return not has_accepted_current(merchant)


def standing(merchant: Merchant) -> Standing:
    """This merchant's acceptances (and no other merchant's), with the people who made them."""
    rows = db.session.execute(
        select(TermsAcceptance, User)
        .outerjoin(User, (User.id == TermsAcceptance.user_id) & (User.merchant_id == merchant.id))
        .where(TermsAcceptance.merchant_id == merchant.id)
        .order_by(TermsAcceptance.accepted_at.desc(), TermsAcceptance.id.desc())
    ).all()
    history = [
        Acceptance(row.version, row.accepted_at.astimezone(timezone.utc), row.ip, user)
        for row, user in rows
    ]
    current = next((a for a in history if a.version == CURRENT_VERSION), None)
    return Standing(current, history)


def paused_by_new_version(merchant: Merchant) -> bool:
    """Whether sending is paused because the terms changed since the merchant accepted them."""
    accepted_any = select(TermsAcceptance.id).where(TermsAcceptance.merchant_id == merchant.id)
    return bool(db.session.scalar(select(accepted_any.exists()))) and needs_acceptance(merchant)
