"""Abandoned carts as a merchant reads them: each expired session, its decision, its emails."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, select, tuple_
from sqlalchemy.orm import contains_eager

from portal import db
from portal.models import (
    CaseStatus,
    CheckoutSession,
    EmailSend,
    EmailVersion,
    RecoveryCase,
    SendStatus,
)
from portal.services.rules import CANCELLED_BEFORE_RETRY, GAVE_UP_AFTER_A_DAY, Reason

# The decision trace in words: why a cart was, or was not, emailed.
REASONS = {
    Reason.TEST_MODE: "Test-mode session: recorded, never emailed",
    Reason.NOT_CONNECTED: "Not emailed: Stripe was not connected",
    Reason.TERMS_NOT_ACCEPTED: "Not emailed: the current terms were not accepted",
    Reason.MERCHANT_DISABLED: "Not emailed: recovery emails were turned off",
    Reason.NO_CONSENT: "The shopper did not agree to marketing emails",
    Reason.NO_EMAIL: "No address mail can reach",
    Reason.NO_RECOVERY_URL: "Stripe gave no recovery link",
    Reason.UNKNOWN_TO_STRIPE: "Stripe does not know this checkout",
    Reason.RECOVERY_URL_EXPIRED: "The recovery link expired first",
    Reason.UNSUBSCRIBED: "The address is unsubscribed",
    Reason.SUPPRESSED: "The address bounced before, or was erased on request",
    Reason.LATER_SESSION: "The shopper started a later checkout",
    Reason.COMPLETED_ELSEWHERE: "The shopper bought in a later checkout",
    Reason.HOLDOUT: "Kept un-emailed (holdout group)",
    Reason.FREQUENCY_CAP: "Another email went to this address recently",
}
# What became of one email: a table cell, and the end of a sentence about it.
SEND_STATUS = {
    SendStatus.SENT: "Sent",
    SendStatus.CLAIMED: "Being sent",
    SendStatus.DEFERRED: "Deferred, retrying",
    SendStatus.BOUNCED: "Bounced",
    SendStatus.FAILED: "Not sent",
    SendStatus.UNKNOWN: "Interrupted",
}


def error_words(detail: str | None) -> str:
    """What went wrong with one email, for the merchant: a reason stopping a retry in words;
    the mail server's own words otherwise (its code and text, kept as it said them)."""
    if detail and detail.startswith(CANCELLED_BEFORE_RETRY):
        reason = detail.removeprefix(CANCELLED_BEFORE_RETRY)
        return f"Not tried again. {REASONS.get(reason, OTHER_ENDS.get(reason, reason))}."
    if detail and detail.startswith(GAVE_UP_AFTER_A_DAY):
        last = detail.removeprefix(GAVE_UP_AFTER_A_DAY)
        return f"Not tried again: the mail server put it off for 24 hours. Its last answer: {last}"
    return detail or ""


_OUTCOME = {
    SendStatus.CLAIMED: "is being sent",
    SendStatus.DEFERRED: "is waiting to be tried again",
    SendStatus.BOUNCED: "bounced: the address is suppressed",
    SendStatus.FAILED: "could not be sent",
    SendStatus.UNKNOWN: "was interrupted while sending: it may not have arrived",
}


def describe(case: RecoveryCase, sends: list[EmailSend] = ()) -> str:
    """The decision of a case in a sentence, saying what became of its emails (`sends`)."""
    if case.recovered_at is not None:
        return (
            "Emailed, then bought"
            if case.recovered_step is not None
            else "Bought again on its own"
        )
    if case.status in CaseStatus.active() and not sends:
        return "Waiting to send" if case.next_action_at else "Deciding"
    if sends:
        return _emails_in_words(sends)
    return REASONS.get(case.reason or "") or OTHER_ENDS.get(case.reason or "", "Finished")


# Ends that stop no email (not in the "not emailed because" filter).
OTHER_ENDS = {
    Reason.RECOVERED: "Paid, then the delayed payment failed: not recovered",
    Reason.SEQUENCE_FINISHED: "Every email of the sequence was sent",
}


def _emails_in_words(sends: list[EmailSend]) -> str:
    """ "Emailed" only for emails a server took; otherwise what happened to the latest one."""
    delivered = sum(1 for send in sends if send.status == SendStatus.SENT)
    last = sends[-1]
    if last.status == SendStatus.SENT:
        return "Emailed" if delivered == 1 else f"Emailed {delivered} times"
    outcome = _OUTCOME.get(last.status, last.status)
    if last.status == SendStatus.FAILED and (last.last_error or "").startswith("not composed"):
        outcome = "could not be composed: nothing was sent"
    elif last.status == SendStatus.FAILED and (last.last_error or "").startswith(
        CANCELLED_BEFORE_RETRY
    ):  # a rule stopped its retry: say which
        reason = last.last_error.removeprefix(CANCELLED_BEFORE_RETRY)
        outcome = f"was not tried again: {REASONS.get(reason, reason).lower()}"
    elif last.status == SendStatus.FAILED and (last.last_error or "").startswith(
        GAVE_UP_AFTER_A_DAY
    ):
        outcome = "could not be sent: the mail server put it off for 24 hours"
    return f"Emailed; a follow-up {outcome}" if delivered else f"The email {outcome}"


PAGE_SIZE = 50
# The list's filters: ?show= -> (words, condition on the case).
FILTERS = {
    "waiting": ("Waiting", RecoveryCase.status.in_(CaseStatus.active())),
    "eligible": ("Could be emailed", RecoveryCase.holdout.is_not(None)),
    "emailed": ("Emailed", RecoveryCase.emailed_at.is_not(None)),
    "clicked": ("Clicked", RecoveryCase.clicked_at.is_not(None)),
    # A rule stopped it before any email (one that stopped a follow-up was emailed).
    "stopped": (
        "Not emailed",
        and_(RecoveryCase.status == CaseStatus.SKIPPED, RecoveryCase.emailed_at.is_(None)),
    ),
    "recovered": ("Recovered", RecoveryCase.recovered_at.is_not(None)),
}


@dataclass(frozen=True)
class Page:
    cases: list[RecoveryCase]  # latest expiry first, each with its session loaded
    next_before: int | None  # the id to ask the next page `before`; None: this is the last


def page(
    merchant_id: int,
    show: str = "",
    reason: str = "",
    before: int | None = None,
    window: tuple[datetime, datetime] | None = None,
) -> Page:
    """One page of the merchant's expired sessions, latest expiry first, keyset by (expiry,
    id): sessions that expire meanwhile join the top, never shift a later page. `show` is a
    FILTERS key and `reason` a decision's code (REASONS); anything else is ignored. With a
    `window` [start, end): only the live-mode carts that expired in it, as the dashboard
    counts them."""
    stmt = (
        select(RecoveryCase)
        .options(contains_eager(RecoveryCase.session))
        .join(RecoveryCase.session)
        .where(RecoveryCase.merchant_id == merchant_id)
        .order_by(RecoveryCase.expired_at.desc(), RecoveryCase.id.desc())
        .limit(PAGE_SIZE + 1)
    )
    if show in FILTERS:
        stmt = stmt.where(FILTERS[show][1])
    if reason in REASONS:
        stmt = stmt.where(RecoveryCase.reason == reason)
    if window:
        stmt = stmt.where(
            RecoveryCase.livemode.is_(True),
            RecoveryCase.expired_at >= window[0],
            RecoveryCase.expired_at < window[1],
        )
    anchor = before and db.session.scalar(
        select(RecoveryCase.expired_at).where(
            RecoveryCase.id == before, RecoveryCase.merchant_id == merchant_id
        )
    )
    if anchor:
        stmt = stmt.where(tuple_(RecoveryCase.expired_at, RecoveryCase.id) < (anchor, before))
    cases = list(db.session.scalars(stmt).unique())
    more = len(cases) > PAGE_SIZE
    return Page(cases[:PAGE_SIZE], cases[PAGE_SIZE - 1].id if more else None)


def versions_of(sends: list[EmailSend]) -> dict[int, EmailVersion]:
    """The saved designs these sends were rendered from, by id (a send without one used the
    built-in default)."""
    ids = {send.email_version_id for send in sends if send.email_version_id}
    if not ids:
        return {}
    rows = db.session.scalars(select(EmailVersion).where(EmailVersion.id.in_(ids)))
    return {version.id: version for version in rows}


def sends(case: RecoveryCase) -> list[EmailSend]:
    """The case's emails, step by step (sends_of for one case)."""
    return sends_of([case.id]).get(case.id, [])


def sends_of(case_ids: list[int]) -> dict[int, list[EmailSend]]:
    """Each case's emails, step by step, in one query for a whole page of cases."""
    found = defaultdict(list)
    if case_ids:
        for send in db.session.scalars(
            select(EmailSend)
            .where(EmailSend.case_id.in_(case_ids))
            .order_by(EmailSend.case_id, EmailSend.step)
        ):
            found[send.case_id].append(send)
    return found


def recovering_session(case: RecoveryCase) -> CheckoutSession | None:
    """The checkout the shopper reopened from the recovery link and paid, as mirrored; None
    before a recovery, or while that session has not reached the mirror."""
    if not case.recovered_session_id:
        return None
    return db.session.scalar(
        select(CheckoutSession).where(
            CheckoutSession.session_id == case.recovered_session_id,
            CheckoutSession.merchant_id == case.merchant_id,
        )
    )
