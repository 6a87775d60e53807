"""Recovery cases: one per expired session, carrying the decision and the credit."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.models.checkout import CheckoutSession


class CaseStatus(StrEnum):
    NEW = "new"  # opened from an expired session, not looked at yet
    SCHEDULED = "scheduled"  # its next look (or send) is due at next_action_at
    SKIPPED = "skipped"  # a rule stopped it (`reason` says which); emailed_at: after an email
    DONE = "done"  # finished: emailed to the end of its sequence, or recovered

    @classmethod
    def active(cls) -> tuple[CaseStatus, ...]:
        """The statuses of cases the engine still looks at."""
        return (cls.NEW, cls.SCHEDULED)


class RecoveryCase(Base):
    """An expired session the portal may email about; credited when its recovery is paid."""

    __tablename__ = "recovery_cases"
    __table_args__ = (
        Index("ix_recovery_cases_due", "status", "next_action_at"),
        # The carts list reads one merchant's cases by expiry (keyset pages); so does the
        # dashboard on SQLite (PostgreSQL keeps counts: models/stats.py).
        Index(
            "ix_recovery_cases_merchant_expired",
            "merchant_id",
            "expired_at",
            "id",
        ),
        # Recovered payments, newest first (keyset pages).
        Index(
            "ix_recovery_cases_merchant_recovered",
            "merchant_id",
            "recovered_at",
            "id",
            postgresql_where=text("recovered_at IS NOT NULL"),
            sqlite_where=text("recovered_at IS NOT NULL"),
        ),
    )

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
    # Kept beside the facts they summarise, so that the dashboard reads one row per case:
    livemode: Mapped[bool] = mapped_column(
        default=True, server_default=true()
    )  # the session's mode: test-mode carts stay out of the figures
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # the session's expiry
    # None: a rule stopped the case before the holdout draw (not eligible); True: held out;
    # False: in the emailed group.
    holdout: Mapped[bool | None]
    emailed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first email a server took
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first click of any email
    # The shopper paid after the expiry, through the recovery link or a new checkout with the
    # same address or customer (what the holdout comparison counts, for both groups alike).
    purchased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    session: Mapped[CheckoutSession] = relationship()


class CaseEvent(Base):
    """One step of a case's decision trace that no other row keeps: each decision the engine
    took and each re-check with Stripe, with what it found. Appended, never updated."""

    __tablename__ = "case_events"
    __table_args__ = (Index("ix_case_events_case", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("recovery_cases.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    kind: Mapped[str] = mapped_column(String(16))  # decided | rechecked | recheck_failed
    detail: Mapped[dict] = mapped_column(JSON, default=dict)


class DryRunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class DryRun(Base):
    """A replay of the rules over a merchant's past sessions under candidate settings: counts
    of what would have been sent and skipped, by reason. Nothing is sent."""

    __tablename__ = "dry_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    since: Mapped[datetime] = mapped_column(UTCDateTime)
    until: Mapped[datetime] = mapped_column(UTCDateTime)
    settings: Mapped[dict] = mapped_column(JSON)  # the candidate settings, as the form gave them
    status: Mapped[str] = mapped_column(String(16), default=DryRunStatus.QUEUED)
    total: Mapped[int] = mapped_column(default=0)  # sessions in the period
    done: Mapped[int] = mapped_column(default=0)  # sessions replayed so far
    cursor: Mapped[int] = mapped_column(default=0)  # the last case id replayed
    results: Mapped[dict] = mapped_column(JSON, default=dict)  # outcome -> count
    error: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    touched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when it last moved
