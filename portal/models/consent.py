"""Marketing consent per address and merchant: the current status and every change to it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime, utcnow


class ConsentStatus(StrEnum):
    SUBSCRIBED = "subscribed"
    UNSUBSCRIBED = "unsubscribed"


class ConsentSource(StrEnum):
    """Where a change of consent came from (the ledger's `source`)."""

    CHECKOUT_SESSION = "checkout_session"
    CSV = "csv"
    UNSUBSCRIBE_LINK = "unsubscribe_link"
    ONE_CLICK = "one_click"
    MANUAL = "manual"
    BOUNCE = "bounce"
    COMPLAINT = "complaint"

    @classmethod
    def shoppers_own(cls) -> tuple[ConsentSource, ...]:
        """The shopper unsubscribing themselves, from an email (its link or the mail app's
        one-click button)."""
        return (cls.UNSUBSCRIBE_LINK, cls.ONE_CLICK)


class Contact(Base):
    """An address's current status with a merchant; `updated_at` is when that status was
    expressed, and only a newer change replaces it."""

    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("merchant_id", "email"),
        # The subscriptions page lists one status at a time, in address order (keyset pages).
        Index("ix_contacts_merchant_status_email", "merchant_id", "status", "email"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(32))
    # Set when the address bounced or complained: never emailed again, whatever its consent.
    suppressed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    suppressed_reason: Mapped[str | None] = mapped_column(String(200))


class ConsentChange(Base):
    """One entry of the consent ledger: who said what, where, and when. Never updated."""

    __tablename__ = "consent_changes"
    __table_args__ = (
        # Also the index of every lookup by address: it begins with (merchant_id, email).
        UniqueConstraint("merchant_id", "email", "source", "source_ref"),
        # The dashboard counts a period's unsubscribes made from emails (a partial index: the
        # many rows of CSV uploads and checkouts never enter it).
        Index(
            "ix_consent_changes_unsubscribes",
            "merchant_id",
            "occurred_at",
            postgresql_where=text("source IN ('unsubscribe_link', 'one_click')"),
            sqlite_where=text("source IN ('unsubscribe_link', 'one_click')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(
        String(32)
    )  # checkout_session | csv | unsubscribe_link | ...
    source_ref: Mapped[str] = mapped_column(String(255))  # e.g. the checkout session id
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
