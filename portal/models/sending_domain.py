"""A merchant's own sending domain: its DKIM key pair and what DNS said about it."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime, utcnow


class DomainStatus(StrEnum):
    PENDING = "pending"  # the DKIM record has never been seen right: mail uses the platform
    VERIFIED = "verified"  # mail goes From local_part@domain, DKIM-signed
    FAILING = "failing"  # was verified, then the DKIM record went missing or wrong: fallback


class SendingDomain(Base):
    """The one domain a merchant sends from. Replacing it deletes this row and makes a new key:
    a selector and key pair are never reused for another domain."""

    __tablename__ = "sending_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    merchant_id: Mapped[int] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), unique=True
    )
    domain: Mapped[str] = mapped_column(String(253))  # A-labels, lower case, no trailing dot
    local_part: Mapped[str] = mapped_column(String(64), default="hello")
    selector: Mapped[str] = mapped_column(String(63))
    # The PKCS#8 PEM, sealed with ENCRYPTION_KEY (portal.sealing): never stored in clear.
    private_key_sealed: Mapped[str] = mapped_column(Text)
    public_key: Mapped[str] = mapped_column(Text)  # base64 DER SubjectPublicKeyInfo: the p= tag
    status: Mapped[str] = mapped_column(String(16), default=DomainStatus.PENDING)
    # The last check, per record kind: {"dkim": {"state", "found", "message"}, "spf": ...}.
    checks: Mapped[dict] = mapped_column(JSON, default=dict)
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the owner was emailed about the break; set by whoever sends that email, cleared
    # when the domain is verified again, so that the next break is told once too.
    owner_notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def from_address(self) -> str:
        return f"{self.local_part}@{self.domain}"
