"""The recovery rules: a pure function from facts to a decision (no database, no network).

Stripe's rules must hold exactly; the portal's own rules (timing, quiet hours,
follow-ups, frequency cap, holdout) come after them. Every skip names one reason from REASONS.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from email_validator import EmailNotValidError, validate_email

from portal.models import SessionStatus, TestModeSends  # vocabulary only: no database here


LATE_START = timedelta(minutes=5)  # an email sent later than its time by more went out late
# A deferred email's last error when a rule stopped its retry: this, then the Reason.
CANCELLED_BEFORE_RETRY = "cancelled before retry: "
# ... when the mail server put it off for a day: this, then the server's last answer.
GAVE_UP_AFTER_A_DAY = "no retry past 24 h; last answer: "


class Action(StrEnum):
    """What a decision asks of the engine."""

    SEND = "send"  # now
    WAIT = "wait"  # look again at `Decision.at`
    SKIP = "skip"  # never email this case (a rule stopped it before any email)
    DONE = "done"  # the case is finished (recovered, or its sequence is over)


class Reason(StrEnum):
    """Why a case was skipped or finished: the decision trace a merchant reads."""

    RECOVERED = "recovered"
    TEST_MODE = "test_mode"
    NOT_CONNECTED = "not_connected"  # the merchant's Stripe account was not connected
    TERMS_NOT_ACCEPTED = "terms_not_accepted"  # the current terms were not accepted
    MERCHANT_DISABLED = "merchant_disabled"  # the merchant had recovery emails off
    NO_CONSENT = "no_consent"
    NO_EMAIL = "no_email"
    NO_RECOVERY_URL = "no_recovery_url"
    UNKNOWN_TO_STRIPE = "unknown_to_stripe"  # the send-time re-check found no such session
    RECOVERY_URL_EXPIRED = "recovery_url_expired"
    UNSUBSCRIBED = "unsubscribed"
    SUPPRESSED = "suppressed"
    LATER_SESSION = "later_session"
    COMPLETED_ELSEWHERE = "completed_elsewhere"
    HOLDOUT = "holdout"
    FREQUENCY_CAP = "frequency_cap"
    SEQUENCE_FINISHED = "sequence_finished"


REASONS = tuple(Reason)
MAX_STEPS = 3


@dataclass(frozen=True)
class Step:
    delay: timedelta  # after the session expired
    promotion: bool = False  # mint a promotion code for this step


@dataclass(frozen=True)
class Policy:
    """The merchant's state and sending settings."""

    connected: bool
    terms_accepted: bool
    enabled: bool
    steps: tuple[Step, ...] = (Step(timedelta(hours=1)),)
    quiet_hours: tuple[int, int] | None = None  # (start hour, end hour), local time
    timezone: str = "UTC"
    quiet_zone: str = "merchant"  # "shopper": quiet hours in the shopper's zone, when known
    frequency_cap: timedelta = timedelta(hours=24)
    holdout_share: float = 0.0  # 0 to 0.5
    test_mode: str = TestModeSends.RECORD


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
    later_session: str | None = None  # status of the shopper's most telling later session
    steps_done: frozenset[int] = field(default_factory=frozenset)  # steps with a send row
    last_other_email_at: datetime | None = None  # latest email to the address from another case
    last_own_email_at: datetime | None = None  # this case's latest email
    known_to_stripe: bool = True  # False when the send-time re-check found no such session
    shopper_timezone: str | None = None  # the zone of the shopper's billing country, if one


@dataclass(frozen=True)
class Decision:
    action: Action
    reason: Reason | None = None  # for skip and done
    at: datetime | None = None  # for send (now) and wait (when to look again)
    step: int | None = None
    to_team: bool = False  # a test-mode session sent to the team instead of the shopper


def decide(facts: Facts, policy: Policy, now: datetime) -> Decision:
    """The decision for the next step of this case at `now`."""
    gate = stop_reason(facts, policy)
    if gate is not None:
        return Decision(Action.DONE if gate == Reason.RECOVERED else Action.SKIP, gate)
    step = next((i for i in range(len(policy.steps)) if i not in facts.steps_done), None)
    if step is None:
        return Decision(Action.DONE, Reason.SEQUENCE_FINISHED)
    if step == 0 and in_holdout(facts.session_id, policy.holdout_share):
        return Decision(Action.SKIP, Reason.HOLDOUT)
    return _timing(facts, policy, step, now)


def stop_reason(facts: Facts, policy: Policy) -> Reason | None:
    """The first rule that stops this case whatever the time, in Stripe's order, then the
    portal's; None when none does."""
    checks = (
        (Reason.RECOVERED, facts.recovered),
        (Reason.TEST_MODE, not facts.livemode and policy.test_mode != TestModeSends.TEAM),
        (Reason.NOT_CONNECTED, not policy.connected),
        (Reason.TERMS_NOT_ACCEPTED, not policy.terms_accepted),
        (Reason.MERCHANT_DISABLED, not policy.enabled),
        (Reason.NO_CONSENT, facts.consent != "opt_in"),
        (Reason.NO_EMAIL, not is_valid_email(facts.email)),
        (Reason.NO_RECOVERY_URL, not facts.recovery_url),
        (Reason.UNKNOWN_TO_STRIPE, not facts.known_to_stripe),
        (Reason.UNSUBSCRIBED, facts.unsubscribed),
        (Reason.SUPPRESSED, facts.suppressed),
        (Reason.COMPLETED_ELSEWHERE, facts.later_session == SessionStatus.COMPLETE),
        (Reason.LATER_SESSION, facts.later_session in (SessionStatus.OPEN, SessionStatus.EXPIRED)),
    )
    return next((reason for reason, stops in checks if stops), None)


def _timing(facts: Facts, policy: Policy, step: int, now: datetime) -> Decision:
    """Send now, wait, or give up because the recovery link will be dead by then."""
    to_team = not facts.livemode
    zone = quiet_clock(facts, policy)
    due = facts.expired_at + policy.steps[step].delay
    if step and facts.last_own_email_at is not None:
        # A sequence that went out late (an event days late, quiet hours, a retried send)
        # keeps its spacing: the follow-up moves by as much as the email before it was late.
        late = facts.last_own_email_at - (facts.expired_at + policy.steps[step - 1].delay)
        due += late if late > LATE_START else timedelta(0)
    due = outside_quiet_hours(due, policy, zone)
    if facts.last_other_email_at is not None:
        capped_until = facts.last_other_email_at + policy.frequency_cap
        if capped_until > max(due, now):
            if step == 0:
                return Decision(Action.SKIP, Reason.FREQUENCY_CAP, step=step)
            due = outside_quiet_hours(capped_until, policy, zone)
    expires = facts.recovery_expires_at
    if expires is not None and max(due, now) >= expires:
        return Decision(
            Action.SKIP if step == 0 else Action.DONE, Reason.RECOVERY_URL_EXPIRED, step=step
        )
    if due > now:
        return Decision(Action.WAIT, at=due, step=step, to_team=to_team)
    return Decision(Action.SEND, at=now, step=step, to_team=to_team)


def quiet_clock(facts: Facts, policy: Policy) -> str:
    """The zone the quiet hours are kept in: the shopper's when the merchant chose it and the
    shopper's country keeps one clock; the merchant's otherwise."""
    shopper = policy.quiet_zone == "shopper" and facts.shopper_timezone
    return shopper or policy.timezone


def outside_quiet_hours(moment: datetime, policy: Policy, zone: str | None = None) -> datetime:
    """`moment`, or the end of the quiet hours it falls in (deferred, never dropped), in `zone`
    (the merchant's when None)."""
    if policy.quiet_hours is None:
        return moment
    start, end = policy.quiet_hours
    local = moment.astimezone(ZoneInfo(zone or policy.timezone))
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
    """A complete, syntactically valid address mail can carry without SMTPUTF8 (no DNS
    lookups): letters outside ASCII in its domain are fine (sent in xn-- form), but not before
    its @, which few servers would take. A .test domain is one (a trial in the sandbox shop
    uses it); .invalid, .local and .localhost are not."""
    if not address:
        return False
    try:
        validate_email(
            address, allow_smtputf8=False, check_deliverability=False, test_environment=True
        )
    except EmailNotValidError:
        return False
    return True
