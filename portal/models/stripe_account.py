"""The Stripe account a merchant connected, and how the portal reaches it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.db import Base, UTCDateTime, utcnow
from portal.models.account import Merchant


class ConnectMethod(StrEnum):
    OAUTH = "oauth"  # Connect OAuth: the platform key, acting as the connected account
    DIRECT = "direct"  # the merchant's own restricted key (self-hosters)


class StripeAccount(Base):
    """One per merchant. `oauth`: reached with the platform key as the connected account;
    `direct`: reached with the merchant's own restricted key. Secrets are sealed at rest."""

    __tablename__ = "stripe_accounts"
    __table_args__ = (CheckConstraint("method IN ('oauth', 'direct')", name="method"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), unique=True
    )
    account_id: Mapped[str] = mapped_column(String(64), unique=True)
    livemode: Mapped[bool] = mapped_column(default=False)
    method: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    shop_url: Mapped[str | None] = mapped_column(String(500))  # business_profile.url
    support_email: Mapped[str | None] = mapped_column(String(254))
    api_key_sealed: Mapped[str | None] = mapped_column(String(500))
    webhook_secret_sealed: Mapped[str | None] = mapped_column(String(500))
    connected_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    disconnected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Direct mode: the last delivery refused for its signature (at most one write a minute), so
    # that the Connect page can say a signing secret is wrong instead of carts never arriving.
    webhook_refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    webhook_refused_reason: Mapped[str | None] = mapped_column(String(200))

    merchant: Mapped[Merchant] = relationship(back_populates="stripe_account")

    @property
    def is_connected(self) -> bool:
        return self.disconnected_at is None
