"""Counted attempts for rate limits that must hold across processes and restarts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime, utcnow


class ThrottleHit(Base):
    """One counted attempt under a key such as `login-email:a@b.c`; old rows are pruned."""

    __tablename__ = "throttle_hits"
    __table_args__ = (Index("ix_throttle_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
