"""Dry runs: the recovery rules replayed over a merchant's past sessions under candidate
settings, counting what would have been sent and skipped, by reason, beside what happened.

A dry run only reads: it never sends, never calls Stripe and never changes a case, a send or a
contact. Its facts come from the database alone (replay.py): the session mirror, the consent
ledger and the sends already known. A job replays the cases that expired in the period in
batches by id; each batch commits its counts with the cursor, so a crash resumes where it
stopped without counting twice, and a finished dry run is never replayed."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select

from portal import db
from portal.db import utcnow
from portal.models import (
    DryRun,
    DryRunStatus,
    EmailSend,
    Merchant,
    RecoveryCase,
    SendStatus,
    User,
)
from portal.services import (
    connections,
    replay,
    rules,
    settings,
    settings_values,
    terms,
    zone_table,
)

BATCH = 1000  # cases replayed and committed together
FIRST_DAY = date(1970, 1, 1)
MAX_DAYS = 366
EXAMPLES = 5  # example sessions kept per outcome
STALE = timedelta(hours=1)  # the job's time limit: an active run older than this has died
ACTIVE = (DryRunStatus.QUEUED, DryRunStatus.RUNNING)
FIELDS = {
    "quiet_start",
    "quiet_end",
    "quiet_zone",
    "frequency_cap_hours",
    "holdout_percent",
    "test_mode",
}


class Refused(Exception):
    """A dry run that cannot start; the message says why, in words."""


@dataclass(frozen=True)
class Candidate:
    """The sending settings that change decisions, as a dry run tries them."""

    steps: tuple[int, ...] = (60,)  # minutes after expiry, one per email
    quiet_start: int | None = None
    quiet_end: int | None = None
    quiet_zone: str = "merchant"  # whose clock the quiet hours follow: "merchant" or "shopper"
    frequency_cap_hours: int = 24
    holdout_percent: int = 0
    test_mode: str = "record"
    as_enabled: bool = True  # treat emails as on: connected, terms accepted, switched on

    @classmethod
    def of(cls, stored: dict) -> Candidate:
        fields = {k: v for k, v in stored.items() if k in cls.__dataclass_fields__}
        return cls(**{**fields, "steps": tuple(stored.get("steps", ()))})


def current(merchant: Merchant) -> Candidate:
    """The merchant's stored sending settings as a candidate, with emails treated as on (what
    the form starts from)."""
    stored = settings.values_of(settings.settings_for(merchant.id))
    return Candidate(
        steps=tuple(step.delay_minutes for step in stored.steps),
        quiet_start=stored.quiet_start,
        quiet_end=stored.quiet_end,
        quiet_zone=stored.quiet_zone,
        frequency_cap_hours=stored.frequency_cap_hours,
        holdout_percent=stored.holdout_percent,
        test_mode=stored.test_mode,
        as_enabled=True,  # what a dry run is for: what would have gone out
    )


def problems(
    candidate: Candidate, first: date | None, last: date | None, today: date
) -> list[tuple[str, str]]:
    """Every reason these settings or this period cannot be tried, each naming its field
    ("since", "until", "steps.<i>" or a setting's name); the settings page's own checks. A day
    that is None was not a date (the form says so): only the other is checked."""
    values = settings_values.Values(
        steps=tuple(settings_values.StepValues(minutes) for minutes in candidate.steps),
        quiet_start=candidate.quiet_start,
        quiet_end=candidate.quiet_end,
        quiet_zone=candidate.quiet_zone,
        frequency_cap_hours=candidate.frequency_cap_hours,
        holdout_percent=candidate.holdout_percent,
        test_mode=candidate.test_mode,
    )
    found = [
        (name, message)
        for name, message in settings_values.problems(values)
        if name in FIELDS or name.startswith("steps")
    ]
    if last is not None and last > today:
        found.append(("until", "Choose a day up to today."))
    # No checkout is older; and a day of year 1 would leave the years a date can hold once
    # moved into a time zone.
    early = [name for name, day in (("since", first), ("until", last)) if day and day < FIRST_DAY]
    found += [(name, "Choose a day from 1970 on.") for name in early]
    if first is None or last is None or early:
        return found
    if first > last:
        found.append(("since", "Start the period on or before its last day."))
    elif (last - first).days + 1 > MAX_DAYS:
        found.append(("since", f"Choose a period of at most {MAX_DAYS} days."))
    return found


def period(first: date, last: date, zone: str) -> tuple[datetime, datetime]:
    """From the start of `first` to the end of `last`, in the merchant's time zone."""
    tz = zone_table.zone(zone)
    since = datetime.combine(first, time(), tzinfo=tz)
    until = datetime.combine(last + timedelta(days=1), time(), tzinfo=tz)
    return since, until


def start(
    merchant: Merchant, user: User | None, candidate: Candidate, first: date, last: date
) -> DryRun:
    """A queued dry run of `candidate` over the period; Refused while another of the merchant's
    runs is active (one at a time). The caller commits, then enqueues the job."""
    db.session.scalar(select(Merchant.id).where(Merchant.id == merchant.id).with_for_update())
    active = db.session.scalar(
        select(DryRun).where(DryRun.merchant_id == merchant.id, DryRun.status.in_(ACTIVE))
    )
    if active is not None and active.created_at > utcnow() - STALE:
        raise Refused("A dry run is already running: see its results before starting another.")
    if active is not None:
        active.status, active.error = DryRunStatus.FAILED, "Stopped: it took over an hour."
    stored = settings.settings_for(merchant.id)
    since, until = period(first, last, stored.timezone)
    run = DryRun(merchant_id=merchant.id, user_id=user.id if user else None)
    run.since, run.until = since, until
    run.settings = {**asdict(candidate), "timezone": stored.timezone}
    run.status, run.results = DryRunStatus.QUEUED, {}
    db.session.add(run)
    db.session.flush()
    return run


def process(run_id: int) -> str:
    """Replay a dry run from its cursor to the end; its status afterwards. Commits after each
    batch (a crash keeps what was counted). A finished dry run, or one another run is moving
    meanwhile, is left alone."""
    run = db.session.get(DryRun, run_id)
    if run is None or run.status not in ACTIVE:
        db.session.rollback()
        return run.status if run else "missing"
    if run.status == DryRunStatus.QUEUED:
        run.status, run.total = DryRunStatus.RUNNING, _count(run)
    run.touched_at = utcnow()
    db.session.commit()
    policy = policy_of(run)
    while ids := _next_ids(run):
        if not _replay_batch(run, ids, policy):
            db.session.rollback()
            return run.status
        db.session.commit()
    db.session.refresh(run, with_for_update=True)
    if run.status == DryRunStatus.RUNNING:  # not given up meanwhile
        run.status, run.finished_at = DryRunStatus.DONE, utcnow()
    db.session.commit()
    return run.status


def give_up(run_id: int, reason: str) -> None:
    """End a dry run whose job failed its last try, saying so on its page. The caller commits."""
    run = db.session.get(DryRun, run_id)
    if run is not None and run.status in ACTIVE:
        run.status, run.finished_at = DryRunStatus.FAILED, utcnow()
        run.error = (
            f"Stopped: the replay failed, and so did the tries after it ({reason}). "
            "Start it again."
        )


def not_queued(run: DryRun) -> None:
    """The queue could not take a new dry run: it ends failed, saying to start it again."""
    run.status, run.finished_at = DryRunStatus.FAILED, utcnow()
    run.error = "The dry run could not be queued just now: please start it again."


def _in_period(run: DryRun):
    return (
        RecoveryCase.merchant_id == run.merchant_id,
        RecoveryCase.expired_at >= run.since,
        RecoveryCase.expired_at < run.until,
    )


def _count(run: DryRun) -> int:
    return db.session.scalar(select(func.count()).where(*_in_period(run))) or 0


def _next_ids(run: DryRun) -> list[int]:
    return list(
        db.session.scalars(
            select(RecoveryCase.id)
            .where(*_in_period(run), RecoveryCase.id > run.cursor)
            .order_by(RecoveryCase.id)
            .limit(BATCH)
        )
    )


def policy_of(run: DryRun) -> rules.Policy:
    """The rules' policy a dry run tries: its candidate settings, and the merchant's real state
    unless emails are treated as on."""
    c, merchant = Candidate.of(run.settings), db.session.get(Merchant, run.merchant_id)
    on = c.as_enabled
    quiet = None if c.quiet_start is None or c.quiet_end is None else (c.quiet_start, c.quiet_end)
    return rules.Policy(
        connected=on or connections.connected_account(merchant) is not None,
        terms_accepted=on or terms.has_accepted_current(merchant),
        enabled=on or merchant.recovery_enabled,
        steps=tuple(rules.Step(timedelta(minutes=m)) for m in c.steps),
        quiet_hours=quiet,
        timezone=run.settings.get("timezone", "UTC"),
        quiet_zone=run.settings.get("quiet_zone", "merchant"),
        frequency_cap=timedelta(hours=c.frequency_cap_hours),
        holdout_share=c.holdout_percent / 100,
        test_mode=c.test_mode,
    )


def _replay_batch(run: DryRun, ids: list[int], policy: rules.Policy) -> bool:
    """Count one batch with the cursor (the caller commits them at once); False when another
    run has moved the cursor since these ids were read, or the run was given up meanwhile."""
    after = run.cursor
    db.session.refresh(run, with_for_update=True)
    if run.cursor != after or run.status != DryRunStatus.RUNNING:
        return False
    outcomes = replay.outcomes(
        run.merchant_id, ids, policy, (run.since, run.until), run.created_at
    )
    results = _tally(dict(run.results or {}), outcomes)
    results["actual"], followups = _actual(ids, results.get("actual", {}))
    results["followups_actual"] = results.get("followups_actual", 0) + followups
    run.results = results  # a new dict: the JSON column sees the change
    run.cursor, run.done, run.touched_at = ids[-1], run.done + len(ids), utcnow()
    return True


def _tally(results: dict, outcomes: dict[int, replay.Outcome]) -> dict:
    """The counts so far with one batch's replayed outcomes added."""
    would, examples = dict(results.get("would", {})), dict(results.get("examples", {}))
    followups, team = results.get("followups", 0), results.get("team", 0)
    for case_id, outcome in sorted(outcomes.items()):
        would[outcome.kind] = would.get(outcome.kind, 0) + 1
        followups += max(outcome.emails - 1, 0)
        team += outcome.emails if outcome.to_team else 0
        shown = examples.get(outcome.kind, [])
        if len(shown) < EXAMPLES:
            examples[outcome.kind] = [*shown, case_id]
    return {**results, "would": would, "examples": examples, "followups": followups, "team": team}


def _actual(ids: list[int], counts: dict) -> tuple[dict, int]:
    """What happened to these cases under the real settings: the counts with theirs added, and
    how many follow-ups a mail server took for them."""
    counts = dict(counts)
    rows = db.session.execute(
        select(RecoveryCase.emailed_at, RecoveryCase.recovered_at, RecoveryCase.reason).where(
            RecoveryCase.id.in_(ids)
        )
    )
    for emailed_at, recovered_at, reason in rows:
        kind = replay.EMAILED if emailed_at else reason or replay.WAITING
        kind = replay.RECOVERED if not emailed_at and recovered_at else kind
        counts[kind] = counts.get(kind, 0) + 1
    followups = db.session.scalar(
        select(func.count()).where(
            EmailSend.case_id.in_(ids), EmailSend.step > 0, EmailSend.status == SendStatus.SENT
        )
    )
    return counts, followups or 0
