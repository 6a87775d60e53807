"""Counts for the dashboard and the payments totals, per merchant and quarter hour (UTC).

On PostgreSQL, triggers on recovery_cases and email_sends append every change of a counted
fact to `stat_deltas` (the difference it makes, in its quarter hour), in the same transaction
as the change; a periodic job folds the deltas into `stat_buckets`. Readers add both tables up,
so the counts always equal a count over the rows, whatever the writer, the order of events or
their repeats. Quarter hours: every time zone's midnight falls on one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.db import Base, UTCDateTime

# The counted facts, in the order the triggers write them.
COHORT = (  # the carts that expired in the quarter hour
    "expired",
    "eligible",
    "emailed",
    "clicked",
    "recovered",
    "held_out",
    "held_out_bought",
    "emailed_group",
    "emailed_group_bought",
    "revenue",  # recovered amount, per currency
)
PAYMENTS = ("paid", "paid_amount")  # payments made in the quarter hour, per currency
MAIL = ("mail_sent", "mail_clicked", "mail_bounced")  # emails claimed in the quarter hour
COUNTS = COHORT + PAYMENTS + MAIL


class _Counts:
    """The counted columns both tables share."""

    merchant_id: Mapped[int] = mapped_column(ForeignKey("merchants.id", ondelete="CASCADE"))
    bucket: Mapped[datetime] = mapped_column(UTCDateTime)  # the quarter hour's start, UTC
    currency: Mapped[str] = mapped_column(String(3), default="")  # "" for counts of no money
    expired: Mapped[int] = mapped_column(default=0)
    eligible: Mapped[int] = mapped_column(default=0)
    emailed: Mapped[int] = mapped_column(default=0)
    clicked: Mapped[int] = mapped_column(default=0)
    recovered: Mapped[int] = mapped_column(default=0)
    held_out: Mapped[int] = mapped_column(default=0)
    held_out_bought: Mapped[int] = mapped_column(default=0)
    emailed_group: Mapped[int] = mapped_column(default=0)
    emailed_group_bought: Mapped[int] = mapped_column(default=0)
    revenue: Mapped[int] = mapped_column(BigInteger, default=0)
    paid: Mapped[int] = mapped_column(default=0)
    paid_amount: Mapped[int] = mapped_column(BigInteger, default=0)
    mail_sent: Mapped[int] = mapped_column(default=0)
    mail_clicked: Mapped[int] = mapped_column(default=0)
    mail_bounced: Mapped[int] = mapped_column(default=0)


class StatBucket(_Counts, Base):
    __tablename__ = "stat_buckets"

    merchant_id: Mapped[int] = mapped_column(
        ForeignKey("merchants.id", ondelete="CASCADE"), primary_key=True
    )
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    currency: Mapped[str] = mapped_column(String(3), primary_key=True, default="")


class StatDelta(_Counts, Base):
    __tablename__ = "stat_deltas"
    __table_args__ = (Index("ix_stat_deltas_merchant_bucket", "merchant_id", "bucket"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
