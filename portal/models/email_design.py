"""The merchant's recovery email design: every save is a version, and test emails sent from the
editor."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime, utcnow


class EmailVersion(Base):
    """One saved design of one step's email. Never changed once written: a send records the
    version it used, so the cart's page can say which texts the shopper got."""

    __tablename__ = "email_versions"
    __table_args__ = (UniqueConstraint("merchant_id", "step", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    step: Mapped[int]  # 0: the first email, 1 and 2: the follow-ups
    number: Mapped[int]  # 1, 2, 3... per merchant and step
    subject: Mapped[str] = mapped_column(Text)
    preheader: Mapped[str] = mapped_column(Text)
    headline: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    button_label: Mapped[str] = mapped_column(Text)
    footer: Mapped[str] = mapped_column(Text)
    logo_url: Mapped[str | None] = mapped_column(String(500))
    brand_color: Mapped[str] = mapped_column(String(7))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    is_reset: Mapped[bool] = mapped_column(default=False)  # saved by "Reset to default"


class TestSendStatus(StrEnum):
    QUEUED = "queued"
    SENDING = "sending"  # claimed by a worker, which is asking the mail server
    SENT = "sent"
    FAILED = "failed"


class TestSend(Base):
    """A test email from the editor to the user's own address, sent by a worker through the
    same delivery path as recovery emails, with the sample cart."""

    __tablename__ = "test_sends"
    __test__ = False  # not a test class, whatever pytest thinks of the name

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # The design as it stood in the editor, saved or not: the test shows what the preview did.
    design: Mapped[dict] = mapped_column(JSON)
    step: Mapped[int]
    to_address: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16), default=TestSendStatus.QUEUED)
    detail: Mapped[str | None] = mapped_column(Text)  # the server's answer
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
