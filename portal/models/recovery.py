"""Recovery cases: one per expired session, carrying the decision and the credit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.models.checkout import CheckoutSession


class CaseStatus(StrEnum):
    NEW = "new"  # opened from an expired session, not looked at yet
    SCHEDULED = "scheduled"  # its next look (or send) is due at next_action_at
    SKIPPED = "skipped"  # a rule stopped it before any email; `reason` says which
    DONE = "done"  # finished: emailed to the end of its sequence, or recovered

    @classmethod
    def active(cls) -> tuple[CaseStatus, ...]:
        """The statuses of cases the engine still looks at."""
        return (cls.NEW, cls.SCHEDULED)


class RecoveryCase(Base):
    """An expired session the portal may email about; credited when its recovery is paid."""

    __tablename__ = "recovery_cases"
    __table_args__ = (Index("ix_recovery_cases_due", "status", "next_action_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    checkout_session_id: Mapped[int] = mapped_column(
        ForeignKey("checkout_sessions.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.NEW)
    reason: Mapped[str | None] = mapped_column(String(32))
    next_action_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recovered_session_id: Mapped[str | None] = mapped_column(String(255))
    recovered_amount: Mapped[int | None] = mapped_column(BigInteger)
    recovered_currency: Mapped[str | None] = mapped_column(String(3))
    recovered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recovered_step: Mapped[int | None]  # the email step that preceded the recovery, if any
    attempts: Mapped[int] = mapped_column(
        default=0, server_default="0"
    )  # consecutive failed re-checks with Stripe

    session: Mapped[CheckoutSession] = relationship()

    @property
    def is_credited(self) -> bool:
        return self.recovered_at is not None
