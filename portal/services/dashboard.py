"""The dashboard's figures for one merchant and a period of whole days in its time zone, with
the period before it: carts by expiry (the funnel, recovered revenue, the holdout groups), the
emails claimed, and the unsubscribes made from them.

On PostgreSQL the carts and emails come from the counts kept per quarter hour (rollups.py: one
small query, whatever the number of carts); on SQLite from the rows. Unsubscribes are counted
from their index. Each query reads the current and the previous period together."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, fields
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import Select, exists, func, select, true

from portal import db
from portal.models import ConsentChange, ConsentSource, EmailSend, RecoveryCase, SendStatus
from portal.services import rollups, settings, zone_table
from portal.services.dashboard_lift import Lift, lift

PERIODS = (7, 30, 90)
DEFAULT_DAYS = 30
UNSUBSCRIBE_SOURCES = ConsentSource.shoppers_own()


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


def period_asked(
    merchant_id: int, value: str | None, now: datetime, choices: tuple[int, ...] = PERIODS
) -> Period | None:
    """The period a page's ?days= asks for, one of `choices` in the merchant's time zone up to
    now (today so far); None for anything else, which the page reads as all its carts."""
    if value not in {str(days) for days in choices}:
        return None
    return period_for(int(value), settings.settings_for(merchant_id).timezone, now)


def period_for(days: int, zone_name: str, now: datetime) -> Period:
    """The last `days` local days up to and including today (today so far), in `zone_name`."""
    zone = zone_table.zone(zone_name)
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
    chosen = settings.settings_for(merchant_id)
    period = period_for(days, chosen.timezone, now)
    kept = kept_rows(merchant_id, period)
    by_day = cohorts_by_day(merchant_id, period, kept)
    current, previous = Cohort(), Cohort()
    for day, cohort in by_day.items():
        (current if day >= period.first else previous).add(cohort)
    mail, previous_mail = mail_counts(merchant_id, period, kept)
    shows_lift = chosen.holdout_percent > 0 or current.held_out > 0
    return Dashboard(
        period,
        current,
        previous,
        mail,
        previous_mail,
        [(day, by_day.get(day, Cohort())) for day in period.dates()],
        chosen.holdout_percent,
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


def kept_rows(merchant_id: int, period: Period) -> list[dict] | None:
    """Both periods' counts by local day as PostgreSQL keeps them (None on SQLite)."""
    if not rollups.kept():
        return None
    return rollups.by_day(merchant_id, period.previous_start, period.end, period.zone.key)


def cohorts_by_day(
    merchant_id: int, period: Period, kept: list[dict] | None = None
) -> dict[date, Cohort]:
    """The carts that expired in both periods, by local day of expiry (`kept`: kept_rows')."""
    kept = kept if kept is not None else kept_rows(merchant_id, period)
    if kept is not None:
        return _cohorts_kept(kept)
    found: dict[date, Cohort] = defaultdict(Cohort)
    for moment, currency, *counts, amount in db.session.execute(_by_instant(merchant_id, period)):
        cohort = Cohort(**dict(zip(COUNTED, counts)))
        if currency and amount is not None:
            cohort.revenue[currency] = int(amount)
        found[moment.astimezone(period.zone).date()].add(cohort)
    return dict(found)


def _cohorts_kept(rows: list[dict]) -> dict[date, Cohort]:
    """From the counts PostgreSQL keeps per quarter hour (rollups.py): a few hundred rows a
    period, whatever the number of carts."""
    found: dict[date, Cohort] = defaultdict(Cohort)
    for row in rows:
        cohort = Cohort(**{name: int(row[name]) for name in COUNTED})
        if row["currency"] and row["revenue"]:
            cohort.revenue[row["currency"]] = int(row["revenue"])
        if cohort.expired or cohort.revenue:
            found[row["day"]].add(cohort)
    return dict(found)


def _by_instant(merchant_id: int, period: Period) -> Select:
    """The portable fallback (SQLite has no time zones): rows by instant, days found in Python."""
    expired = RecoveryCase.expired_at
    return (
        select(expired, RecoveryCase.recovered_currency, *_case_counts())
        .where(
            RecoveryCase.merchant_id == merchant_id,
            RecoveryCase.livemode.is_(True),
            expired >= period.previous_start,
            expired < period.end,
        )
        .group_by(expired, RecoveryCase.recovered_currency)
    )


def mail_counts(
    merchant_id: int, period: Period, kept: list[dict] | None = None
) -> tuple[Mail, Mail]:
    """Emails claimed (and unsubscribes made) in the current and in the previous period."""
    kept = kept if kept is not None else kept_rows(merchant_id, period)
    if kept is not None:
        emails = _emails_kept(kept, period)
    else:
        emails = _emails_counted(merchant_id, period)
    changes = ConsentChange
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
    return Mail(*emails[:3], unsubscribed[0]), Mail(*emails[3:], unsubscribed[1])


def _emails_kept(rows: list[dict], period: Period) -> list[int]:
    """(sent, clicked, bounced) of the current period, then of the previous one."""
    totals = [0] * 6
    for row in rows:
        at = 0 if row["day"] >= period.first else 3
        for i, name in enumerate(("mail_sent", "mail_clicked", "mail_bounced")):
            totals[at + i] += int(row[name])
    return totals


def _emails_counted(merchant_id: int, period: Period) -> list[int]:
    sends = EmailSend
    current = sends.created_at >= period.start
    sent, bounced = sends.status == SendStatus.SENT, sends.status == SendStatus.BOUNCED
    clicked = sends.clicked_at.is_not(None)
    row = db.session.execute(
        select(
            *(func.count().filter(c & current) for c in (sent, clicked, bounced)),
            *(func.count().filter(c & ~current) for c in (sent, clicked, bounced)),
        )
        .join(RecoveryCase, RecoveryCase.id == sends.case_id)
        .where(
            sends.merchant_id == merchant_id,
            RecoveryCase.livemode.is_(True),
            sends.created_at >= period.previous_start,
            sends.created_at < period.end,
        )
    ).one()
    return list(row)
