"""Stripe events as received: stored before they are acknowledged, applied by the worker."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime, utcnow


class EventStatus(StrEnum):
    PENDING = "pending"  # stored, not applied yet (or waiting for a retry)
    PROCESSED = "processed"  # applied
    IGNORED = "ignored"  # a type the portal does not act on
    UNROUTED = "unrouted"  # no merchant owns the account
    FAILED = "failed"  # every attempt failed; see last_error, replay with `flask events`


class EventSource(StrEnum):
    CONNECT = "connect"  # the platform's Connect endpoint, signed with the platform's secret
    DIRECT = "direct"  # a direct-mode merchant's own endpoint, signed with its secret


class StripeEvent(Base):
    """One Stripe event, unique on Stripe's id: a second delivery changes nothing."""

    __tablename__ = "stripe_events"
    __table_args__ = (
        Index("ix_stripe_events_due", "status", "next_attempt_at"),
        # A merchant's events newest first: the Connect page's "last event received".
        Index("ix_stripe_events_merchant_latest", "merchant_id", "id"),
        # The sweep's pruning of events past their retention (events.prune).
        Index("ix_stripe_events_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[str] = mapped_column(String(255), unique=True)
    source: Mapped[str] = mapped_column(String(16))  # an EventSource
    account_id: Mapped[str | None] = mapped_column(String(64))
    merchant_id: Mapped[int | None] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(100))
    livemode: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # Stripe's `created`
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    payload: Mapped[str] = mapped_column(Text)  # the raw body, exactly as signed
    status: Mapped[str] = mapped_column(String(16), default=EventStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
