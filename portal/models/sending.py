"""Sending: the merchant's settings, one row per email sent (claimed before sending), and the
development outbox."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime, utcnow


class TestModeSends(StrEnum):
    """What becomes of test-mode sessions (a sending setting)."""

    RECORD = "record"  # decided and recorded, never emailed
    TEAM = "team"  # emailed to the merchant's owner instead of the shopper


class SendingSettings(Base):
    """How and when a merchant's recovery emails go out (one row per merchant)."""

    __tablename__ = "sending_settings"

    merchant_id: Mapped[int] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    # Up to three steps, each {"delay_minutes": int, "promotion": bool}, delays after expiry.
    # The default is Stripe's own feature: one email, sent at expiry.
    steps: Mapped[list] = mapped_column(
        JSON, default=lambda: [{"delay_minutes": 0, "promotion": False}]
    )
    quiet_start: Mapped[int | None]  # hour 0-23, local time
    quiet_end: Mapped[int | None]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # Whose clock the quiet hours follow: "merchant" (timezone) or "shopper" (their country's).
    quiet_zone: Mapped[str] = mapped_column(
        String(16), default="merchant", server_default="merchant"
    )
    frequency_cap_hours: Mapped[int] = mapped_column(default=24)
    holdout_percent: Mapped[int] = mapped_column(default=0)
    test_mode: Mapped[str] = mapped_column(String(16), default=TestModeSends.RECORD)
    sender_name: Mapped[str] = mapped_column(String(100), default="")
    reply_to: Mapped[str | None] = mapped_column(String(254))
    postal_address: Mapped[str] = mapped_column(Text, default="")
    brand_color: Mapped[str] = mapped_column(String(7), default="#4f46e5")
    logo_url: Mapped[str | None] = mapped_column(String(500))
    coupon_id: Mapped[str | None] = mapped_column(
        String(255)
    )  # the coupon promotion steps draw on
    promotion_daily_cap: Mapped[int] = mapped_column(default=50, server_default="50")
    # How amounts and dates are written when the checkout did not set a language (Babel's id).
    locale: Mapped[str] = mapped_column(String(16), default="en_US", server_default="en_US")


class SendStatus(StrEnum):
    # Being sent. A claim whose worker died is sent again when it never reached the mail
    # server (no handed_at), and becomes unknown when it did.
    CLAIMED = "claimed"
    SENT = "sent"
    DEFERRED = "deferred"  # 4xx or no connection: tried again with backoff, for up to 24 h
    BOUNCED = "bounced"  # 5xx for the recipient: the address is suppressed
    FAILED = "failed"  # given up (other permanent error, or 24 h of deferrals)
    UNKNOWN = "unknown"  # may have been delivered: never sent again


class EmailSend(Base):
    """One recovery email for one step of one case. The unique key is the at-most-once promise:
    a second claim of the same (case, step) fails in the database, whatever Redis or RQ retries."""

    __tablename__ = "email_sends"
    __table_args__ = (
        UniqueConstraint("case_id", "step"),
        Index("ix_email_sends_merchant_to", "merchant_id", "to_address"),
        Index("ix_email_sends_due", "status", "next_attempt_at"),
        # A period's emails, on SQLite (PostgreSQL keeps counts: models/stats.py).
        Index("ix_email_sends_merchant_created", "merchant_id", "created_at"),
    )
    # The claim's INSERT computes email_version_id in SQL: RETURNING brings it back at once.
    __mapper_args__ = {"eager_defaults": True}

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    case_id: Mapped[int] = mapped_column(ForeignKey("recovery_cases.id", ondelete="CASCADE"))
    step: Mapped[int]
    to_address: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default=SendStatus.CLAIMED)
    message_id: Mapped[str] = mapped_column(String(255))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the attempt in hand was handed to the mail server (committed just before it).
    handed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    clicked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promotion_code: Mapped[str | None] = mapped_column(String(64))  # minted for this send
    # The design it was rendered from; None: the built-in default (no version saved yet).
    email_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_versions.id", ondelete="SET NULL")
    )


class OutboxMessage(Base):
    """In development (no SMTP_URL) messages land here, and the portal shows them."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int | None] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    raw: Mapped[str] = mapped_column(Text)  # the whole MIME message as it would have been sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
