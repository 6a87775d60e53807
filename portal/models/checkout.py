"""The portal's mirror of merchants' Checkout Sessions, built from webhook events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime


class SessionStatus(StrEnum):
    """A Checkout Session's `status`, as Stripe names it."""

    OPEN = "open"
    COMPLETE = "complete"
    EXPIRED = "expired"


class CheckoutSession(Base):
    """What the portal knows of one session. `state_at`/`state_rank` order snapshots, so an
    event older than the one applied never rolls the session back."""

    __tablename__ = "checkout_sessions"
    __table_args__ = (
        # Unique per merchant, not overall: a direct-mode merchant signs its own events, and a
        # session id is no secret (it is in the checkout's address), so one merchant must not
        # be able to claim another's session by naming it first. Also the index by merchant.
        UniqueConstraint("merchant_id", "session_id"),
        Index("ix_checkout_sessions_merchant_email", "merchant_id", "email"),
        Index("ix_checkout_sessions_merchant_customer", "merchant_id", "customer"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    session_id: Mapped[str] = mapped_column(String(255))
    livemode: Mapped[bool]
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))  # open | complete | expired
    payment_status: Mapped[str] = mapped_column(String(32))  # paid | unpaid | no_payment_required
    async_result: Mapped[str | None] = mapped_column(
        String(16)
    )  # succeeded | failed (delayed methods)
    amount_total: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str | None] = mapped_column(String(3))
    customer: Mapped[str | None] = mapped_column(String(255))  # customer or customer_account
    email: Mapped[str | None] = mapped_column(String(254))  # lower-cased
    customer_name: Mapped[str | None] = mapped_column(String(200))
    locale: Mapped[str | None] = mapped_column(String(16))  # the shopper's language ("auto": none)
    country: Mapped[str | None] = mapped_column(String(2))  # the billing address's, for its clock
    consent_promotions: Mapped[str | None] = mapped_column(String(16))  # opt_in | opt_out
    recovery_url: Mapped[str | None] = mapped_column(Text)
    recovery_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recovered_from: Mapped[str | None] = mapped_column(String(255), index=True)
    payment_link: Mapped[str | None] = mapped_column(String(255))
    payment_intent: Mapped[str | None] = mapped_column(String(255))  # for a Dashboard link
    # [{"name", "quantity", "amount", "currency"}] as Stripe listed the cart at the last look
    # before an email (stripe_gateway.session_and_cart); None until then.
    cart: Mapped[list | None] = mapped_column(JSON)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    state_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state_rank: Mapped[int] = mapped_column(default=0)

    @property
    def is_paid(self) -> bool:
        """Money actually arrived: paid (or nothing to pay), and no delayed payment failed."""
        if self.status != SessionStatus.COMPLETE or self.async_result == "failed":
            return False
        return (
            self.payment_status in ("paid", "no_payment_required")
            or self.async_result == "succeeded"
        )
