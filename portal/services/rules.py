"""The recovery rules: a pure function from facts to a decision (no database, no network).

Stripe's rules (SPEC section 2) must hold exactly; the portal's own rules (timing, quiet hours,
follow-ups, frequency cap, holdout) come after them. Every skip names one reason from REASONS.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email

REASONS = (
    "recovered", "test_mode", "merchant_disabled", "no_consent", "no_email", "no_recovery_url",
    "recovery_url_expired", "unsubscribed", "suppressed", "later_session", "completed_elsewhere",
    "holdout", "frequency_cap", "sequence_finished",
)
MAX_STEPS = 3


@dataclass(frozen=True)
class Step:
    delay: timedelta              # after the session expired
    promotion: bool = False       # mint a promotion code for this step


@dataclass(frozen=True)
class Policy:
    """The merchant's state and sending settings."""

    connected: bool
    terms_accepted: bool
    enabled: bool
    steps: tuple[Step, ...] = (Step(timedelta(hours=1)),)
    quiet_hours: tuple[int, int] | None = None   # (start hour, end hour), local time
    timezone: str = "UTC"
    frequency_cap: timedelta = timedelta(hours=24)
    holdout_share: float = 0.0                   # 0 to 0.5
    test_mode: str = "record"                    # record | team


@dataclass(frozen=True)
class Facts:
    """What is known of one expired session, its shopper and what was already sent."""

    session_id: str
    livemode: bool
    email: str | None
    consent: str | None
    recovery_url: str | None
    recovery_expires_at: datetime | None
    expired_at: datetime
    recovered: bool = False
    unsubscribed: bool = False
    suppressed: bool = False
    later_session: str | None = None       # status of the shopper's most telling later session
    steps_done: frozenset[int] = field(default_factory=frozenset)  # steps with a send row
    last_other_email_at: datetime | None = None   # latest email to the address from another case


@dataclass(frozen=True)
class Decision:
    action: str                 # send | wait | skip | done
    reason: str | None = None   # for skip and done
    at: datetime | None = None  # for send (now) and wait (when to look again)
    step: int | None = None
    to_team: bool = False       # a test-mode session sent to the team instead of the shopper


def decide(facts: Facts, policy: Policy, now: datetime) -> Decision:
    """The decision for the next step of this case at `now`."""
    gate = stop_reason(facts, policy)
    if gate is not None:
        return Decision("done" if gate == "recovered" else "skip", gate)
    step = next((i for i in range(len(policy.steps)) if i not in facts.steps_done), None)
    if step is None:
        return Decision("done", "sequence_finished")
    if step == 0 and in_holdout(facts.session_id, policy.holdout_share):
        return Decision("skip", "holdout")
    return _timing(facts, policy, step, now)


def stop_reason(facts: Facts, policy: Policy) -> str | None:
    """The first rule that stops this case whatever the time, in Stripe's order, then the
    portal's; None when none does."""
    checks = (
        ("recovered", facts.recovered),
        ("test_mode", not facts.livemode and policy.test_mode != "team"),
        ("merchant_disabled", not (policy.connected and policy.terms_accepted and policy.enabled)),
        ("no_consent", facts.consent != "opt_in"),
        ("no_email", not is_valid_email(facts.email)),
        ("no_recovery_url", not facts.recovery_url),
        ("unsubscribed", facts.unsubscribed),
        ("suppressed", facts.suppressed),
        ("completed_elsewhere", facts.later_session == "complete"),
        ("later_session", facts.later_session in ("open", "expired")),
    )
    return next((reason for reason, stops in checks if stops), None)


def _timing(facts: Facts, policy: Policy, step: int, now: datetime) -> Decision:
    """Send now, wait, or give up because the recovery link will be dead by then."""
    to_team = not facts.livemode
    due = outside_quiet_hours(facts.expired_at + policy.steps[step].delay, policy)
    if facts.last_other_email_at is not None:
        capped_until = facts.last_other_email_at + policy.frequency_cap
        if capped_until > max(due, now):
            if step == 0:
                return Decision("skip", "frequency_cap", step=step)
            due = outside_quiet_hours(capped_until, policy)
    expires = facts.recovery_expires_at
    if expires is not None and max(due, now) >= expires:
        return Decision("skip" if step == 0 else "done", "recovery_url_expired", step=step)
    if due > now:
        return Decision("wait", at=due, step=step, to_team=to_team)
    return Decision("send", at=now, step=step, to_team=to_team)


def outside_quiet_hours(moment: datetime, policy: Policy) -> datetime:
    """`moment`, or the end of the quiet hours it falls in (deferred, never dropped)."""
    if policy.quiet_hours is None:
        return moment
    start, end = policy.quiet_hours
    local = moment.astimezone(ZoneInfo(policy.timezone))
    hour = local.hour
    quiet = (start <= hour < end) if start < end else (hour >= start or hour < end)
    if not quiet:
        return moment
    day = local.date() if (start < end or hour < end) else local.date() + timedelta(days=1)
    resume = datetime.combine(day, time(end), tzinfo=local.tzinfo)
    return resume.astimezone(moment.tzinfo)


def in_holdout(session_id: str, share: float) -> bool:
    """Deterministic: the same session is always in or out of the holdout group."""
    if share <= 0:
        return False
    bucket = int.from_bytes(hashlib.sha256(session_id.encode()).digest()[:4], "big") / 2**32
    return bucket < min(share, 0.5)


@lru_cache(maxsize=4096)  # pure, and asked several times per decision about one address
def is_valid_email(address: str | None) -> bool:
    """A complete, syntactically valid address (no DNS lookups)."""
    if not address:
        return False
    try:
        validate_email(address, check_deliverability=False)
    except EmailNotValidError:
        return False
    return True
