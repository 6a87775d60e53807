"""The dashboard's figures for one merchant and a period of whole days in its time zone, with
the period before it: carts by expiry (the funnel, recovered revenue, the holdout groups), the
emails claimed, and the unsubscribes made from them.

Three queries, each answered on PostgreSQL from one index alone (migration 0011), each reading
the current and the previous period together."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Date, DateTime, Select, cast, exists, func, select, true
from sqlalchemy.dialects.postgresql import ARRAY

from portal import db
from portal.models import ConsentChange, EmailSend, RecoveryCase, SendStatus
from portal.services.dashboard_lift import Lift, lift
from portal.services.settings import settings_for

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30
UNSUBSCRIBE_SOURCES = ("unsubscribe_link", "one_click")


@dataclass(frozen=True)
class Period:
    """`days` whole local days ending today, as UTC instants: [start, end), and the period of
    the same length just before it: [previous_start, start)."""

    days: int
    zone: ZoneInfo
    first: date
    last: date
    previous_start: datetime
    start: datetime
    end: datetime

    def dates(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]

    def days_with_bounds(self) -> list[tuple[date, datetime, datetime]]:
        """Each local day of both periods with its first instant and the next day's, in UTC."""
        days = [self.first + timedelta(days=n) for n in range(-self.days, self.days + 1)]
        starts = [_midnight(day, self.zone) for day in days]
        return list(zip(days[:-1], starts[:-1], starts[1:]))


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(timezone.utc)


@dataclass
class Cohort:
    """What became of the carts that expired in some days (a case counts once per stage)."""

    expired: int = 0
    eligible: int = 0  # passed every rule up to the holdout draw
    emailed: int = 0
    clicked: int = 0
    recovered: int = 0
    held_out: int = 0
    held_out_bought: int = 0
    emailed_group: int = 0
    emailed_group_bought: int = 0
    revenue: dict[str, int] = field(default_factory=dict)  # currency -> minor units, never summed

    def add(self, other: Cohort) -> None:
        for name in COUNTED:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for currency, amount in other.revenue.items():
            self.revenue[currency] = self.revenue.get(currency, 0) + amount

    @property
    def rate(self) -> float | None:
        """Recovered carts per expired cart; None without carts."""
        return self.recovered / self.expired if self.expired else None


COUNTED = [f.name for f in fields(Cohort) if f.name != "revenue"]


@dataclass
class Mail:
    """Emails claimed in some days, what became of them, and unsubscribes made in those days."""

    sent: int = 0
    clicks: int = 0
    bounces: int = 0
    unsubscribes: int = 0


@dataclass
class Dashboard:
    period: Period
    current: Cohort
    previous: Cohort
    mail: Mail
    previous_mail: Mail
    daily: list[tuple[date, Cohort]]
    holdout_percent: int
    lift: Lift | None
    has_history: bool  # the merchant has any expired cart at all (otherwise: the welcome)


def parse_days(value: str | None) -> int:
    """The period's length from the form: one of PERIODS, the default otherwise."""
    return int(value) if value in {str(days) for days in PERIODS} else DEFAULT_DAYS


def period_for(days: int, zone_name: str, now: datetime) -> Period:
    """The last `days` local days up to and including today (today so far), in `zone_name`."""
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    last = now.astimezone(zone).date()
    first = last - timedelta(days=days - 1)
    return Period(
        days,
        zone,
        first,
        last,
        _midnight(first - timedelta(days=days), zone),
        _midnight(first, zone),
        _midnight(last + timedelta(days=1), zone),
    )


def build(merchant_id: int, days: int, now: datetime) -> Dashboard:
    """Every figure of the dashboard for `merchant_id`, its current and previous period."""
    settings = settings_for(merchant_id)
    period = period_for(days, settings.timezone, now)
    by_day = cohorts_by_day(merchant_id, period)
    current, previous = Cohort(), Cohort()
    for day, cohort in by_day.items():
        (current if day >= period.first else previous).add(cohort)
    mail, previous_mail = mail_counts(merchant_id, period)
    shows_lift = settings.holdout_percent > 0 or current.held_out > 0
    return Dashboard(
        period,
        current,
        previous,
        mail,
        previous_mail,
        [(day, by_day.get(day, Cohort())) for day in period.dates()],
        settings.holdout_percent,
        _lift_of(current) if shows_lift else None,
        bool(by_day) or _has_history(merchant_id),
    )


def _lift_of(cohort: Cohort) -> Lift:
    return lift(
        cohort.emailed_group_bought,
        cohort.emailed_group,
        cohort.held_out_bought,
        cohort.held_out,
    )


def _has_history(merchant_id: int) -> bool:
    return bool(db.session.scalar(select(exists().where(RecoveryCase.merchant_id == merchant_id))))


def _case_counts() -> list:
    """The cohort's counts as aggregates, in COUNTED's order, then the revenue."""
    case = RecoveryCase
    held, emailed_group = case.holdout.is_(True), case.holdout.is_(False)
    bought, recovered = case.purchased_at.is_not(None), case.recovered_at.is_not(None)
    conditions = {
        "expired": true(),
        "eligible": case.holdout.is_not(None),
        "emailed": case.emailed_at.is_not(None),
        "clicked": case.clicked_at.is_not(None),
        "recovered": recovered,
        "held_out": held,
        "held_out_bought": held & bought,
        "emailed_group": emailed_group,
        "emailed_group_bought": emailed_group & bought,
    }
    counts = [func.count().filter(conditions[name]) for name in COUNTED]
    return [*counts, func.sum(case.recovered_amount).filter(recovered)]


def cohorts_by_day(merchant_id: int, period: Period) -> dict[date, Cohort]:
    """The carts that expired in both periods, by local day of expiry."""
    postgres = db.session.get_bind().dialect.name == "postgresql"
    stmt = _by_day_postgres if postgres else _by_instant
    found: dict[date, Cohort] = defaultdict(Cohort)
    for key, currency, *counts, amount in db.session.execute(stmt(merchant_id, period)):
        day = key if postgres else key.astimezone(period.zone).date()
        cohort = Cohort(**dict(zip(COUNTED, counts)))
        if currency and amount is not None:
            cohort.revenue[currency] = int(amount)
        found[day].add(cohort)
    return dict(found)


def _by_day_postgres(merchant_id: int, period: Period) -> Select:
    """One small range of the index per local day, its bounds computed here (daylight saving
    included): no per-row time zone arithmetic, no sort, each day aggregated by currency."""
    bounds = period.days_with_bounds()
    days = (
        func.unnest(
            cast([day for day, _, _ in bounds], ARRAY(Date)),
            cast([start for _, start, _ in bounds], ARRAY(DateTime(timezone=True))),
            cast([end for _, _, end in bounds], ARRAY(DateTime(timezone=True))),
        )
        .table_valued("day", "since", "until")
        .render_derived(name="days")
    )
    counts = (
        select(RecoveryCase.recovered_currency, *_case_counts())
        .where(
            RecoveryCase.merchant_id == merchant_id,
            RecoveryCase.expired_at >= days.c.since,
            RecoveryCase.expired_at < days.c.until,
        )
        .group_by(RecoveryCase.recovered_currency)
        .lateral("counts")
    )
    return select(days.c.day, counts).select_from(days.join(counts, true()))


def _by_instant(merchant_id: int, period: Period) -> Select:
    """The portable fallback (SQLite has no time zones): rows by instant, days found in Python."""
    expired = RecoveryCase.expired_at
    return (
        select(expired, RecoveryCase.recovered_currency, *_case_counts())
        .where(
            RecoveryCase.merchant_id == merchant_id,
            expired >= period.previous_start,
            expired < period.end,
        )
        .group_by(expired, RecoveryCase.recovered_currency)
    )


def mail_counts(merchant_id: int, period: Period) -> tuple[Mail, Mail]:
    """Emails claimed (and unsubscribes made) in the current and in the previous period."""
    sends, changes = EmailSend, ConsentChange
    current = sends.created_at >= period.start
    sent, bounced = sends.status == SendStatus.SENT, sends.status == SendStatus.BOUNCED
    clicked = sends.clicked_at.is_not(None)
    row = db.session.execute(
        select(
            *(func.count().filter(c & current) for c in (sent, clicked, bounced)),
            *(func.count().filter(c & ~current) for c in (sent, clicked, bounced)),
        ).where(
            sends.merchant_id == merchant_id,
            sends.created_at >= period.previous_start,
            sends.created_at < period.end,
        )
    ).one()
    unsubscribed = db.session.execute(
        select(
            func.count().filter(changes.occurred_at >= period.start),
            func.count().filter(changes.occurred_at < period.start),
        ).where(
            changes.merchant_id == merchant_id,
            changes.source.in_(UNSUBSCRIBE_SOURCES),
            changes.occurred_at >= period.previous_start,
            changes.occurred_at < period.end,
        )
    ).one()
    return Mail(*row[:3], unsubscribed[0]), Mail(*row[3:], unsubscribed[1])
