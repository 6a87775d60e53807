"""Counts per merchant and quarter hour, kept by PostgreSQL triggers (models/stats.py): read
by local day for the dashboard and as totals for the payments list, folded from the deltas
into the buckets by the periodic job. On SQLite there are no triggers: callers count rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import text

from portal import db
from portal.models.stats import COUNTS

QUARTER = timedelta(minutes=15)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)  # bounds of "all time"
END_OF_TIME = datetime(9999, 1, 1, tzinfo=timezone.utc)
FOLD_LIMIT = 100_000  # deltas folded per transaction
_COLS = ", ".join(COUNTS)
_SUMS = ", ".join(f"sum({c})" for c in COUNTS)
_BOTH = f"""(
    SELECT bucket, currency, {_COLS} FROM stat_buckets
    WHERE merchant_id = :merchant AND bucket >= :since AND bucket < :until
    UNION ALL
    SELECT bucket, currency, {_COLS} FROM stat_deltas
    WHERE merchant_id = :merchant AND bucket >= :since AND bucket < :until
) counted"""
BY_DAY = text(
    f"SELECT (bucket AT TIME ZONE :zone)::date AS day, currency, {_SUMS} FROM {_BOTH} "
    "GROUP BY 1, 2"
)
TOTALS = text(f"SELECT currency, sum(paid), sum(paid_amount) FROM {_BOTH} GROUP BY currency")
FOLD = text(f"""
WITH moved AS (
    DELETE FROM stat_deltas WHERE id IN (SELECT id FROM stat_deltas ORDER BY id LIMIT :limit)
    RETURNING merchant_id, bucket, currency, {_COLS}
)
INSERT INTO stat_buckets (merchant_id, bucket, currency, {_COLS})
SELECT merchant_id, bucket, currency, {_SUMS} FROM moved GROUP BY merchant_id, bucket, currency
ON CONFLICT (merchant_id, bucket, currency) DO UPDATE SET
{", ".join(f"{c} = stat_buckets.{c} + excluded.{c}" for c in COUNTS)}
""")
REBUILD = (
    text("DELETE FROM stat_deltas"),
    text("DELETE FROM stat_buckets"),
    text(f"""
INSERT INTO stat_buckets (merchant_id, bucket, currency, {_COLS})
SELECT p.merchant_id, p.bucket, p.currency, {_SUMS} FROM (
    SELECT p.* FROM recovery_cases c, stat_case_parts(1, c.merchant_id, c.livemode,
        c.expired_at, c.holdout, c.emailed_at, c.clicked_at, c.purchased_at, c.recovered_at,
        c.recovered_amount, c.recovered_currency) p
    UNION ALL
    SELECT p.* FROM email_sends e JOIN recovery_cases c ON c.id = e.case_id,
        stat_send_parts(1, e.merchant_id, c.livemode, e.created_at, e.status, e.clicked_at) p
) p GROUP BY p.merchant_id, p.bucket, p.currency"""),
)


def kept() -> bool:
    """Whether this database keeps the counts (PostgreSQL, with the triggers of 0012)."""
    return db.session.get_bind().dialect.name == "postgresql"


def by_day(merchant_id: int, since: datetime, until: datetime, zone: str) -> list[dict]:
    """The counts of [since, until) by local day of `zone` and currency: each a dict of
    "day", "currency" and every name of COUNTS. `since` and `until` must be quarter hours
    (every zone's midnights are)."""
    rows = db.session.execute(
        BY_DAY, {"merchant": merchant_id, "since": since, "until": until, "zone": zone}
    )
    return [dict(zip(("day", "currency", *COUNTS), row)) for row in rows]


def payment_totals(merchant_id: int, since: datetime, until: datetime) -> dict[str, tuple]:
    """Per currency, (payments, amount) paid in [since, until), both quarter hours."""
    rows = db.session.execute(TOTALS, {"merchant": merchant_id, "since": since, "until": until})
    return {currency: (int(n), int(amount)) for currency, n, amount in rows if n}


def quarter_after(moment: datetime) -> datetime:
    """The first quarter hour at or after `moment`."""
    floor = moment.replace(minute=moment.minute - moment.minute % 15, second=0, microsecond=0)
    return floor if floor == moment else floor + QUARTER


def fold() -> int:
    """Fold the oldest deltas into the buckets (sums unchanged for every reader); how many.
    One fold at a time (a transaction-level advisory lock); the caller commits."""
    if not kept() or not db.session.scalar(text("SELECT pg_try_advisory_xact_lock(8125001)")):
        return 0
    return db.session.execute(FOLD, {"limit": FOLD_LIMIT}).rowcount or 0


def rebuild() -> None:
    """Count every row again (after rows were written with the triggers off, as the benchmark's
    bulk load does). Only while nothing else writes; the caller commits."""
    for statement in REBUILD:
        db.session.execute(statement)
