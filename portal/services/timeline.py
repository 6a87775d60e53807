"""A case's whole story in time order, in words: the checkout, its expiry, each decision and
the rule that stopped it, each re-check with what Stripe said, each email and click, and the
payment. Built from the trace (trace.py) and the rows that already keep the rest."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from portal import db
from portal.models import CaseEvent, CheckoutSession, ConsentChange, ConsentSource, EmailSend
from portal.models import RecoveryCase, SendStatus, SessionStatus
from portal.mail.values import format_money
from portal.services import addresses, trace
from portal.services.carts import REASONS, error_words
from portal.services.rules import Action, Reason

RECHECK_WORDS = "Re-checked with Stripe: "
LATER = {
    None: RECHECK_WORDS + "no later checkout by this shopper. Cleared to send.",
    SessionStatus.OPEN: RECHECK_WORDS + "the shopper has a newer checkout open. Not emailed.",
    SessionStatus.EXPIRED: RECHECK_WORDS + "the shopper started a newer checkout. Not emailed.",
    SessionStatus.COMPLETE: RECHECK_WORDS + "the shopper paid in a newer checkout. Not emailed.",
}
# Why each rule exists, for the merchant reading a stopped cart.
WHY = {
    Reason.TEST_MODE: "Test-mode checkouts are recorded, not emailed (see Settings).",
    Reason.NOT_CONNECTED: "Emails need your Stripe account connected. Carts that expire after "
    "you connect it are emailed.",
    Reason.TERMS_NOT_ACCEPTED: "It expired while the current cart-recovery terms were not "
    "accepted. Carts that expire after you accept them are emailed.",
    Reason.MERCHANT_DISABLED: "Recovery emails were turned off in Settings. Carts that expire "
    "after you turn them on are emailed.",
    Reason.NO_CONSENT: "Stripe's rule: only shoppers who agreed to promotional emails at "
    "checkout may get a recovery email.",
    Reason.NO_EMAIL: (
        "The checkout has no address mail can reach: none was shared, or it is incomplete, "
        "on a domain that can never receive mail (such as .invalid or .local), or has letters "
        "outside plain ASCII before its @."
    ),
    Reason.NO_RECOVERY_URL: "Recovery was not turned on for this checkout in Stripe, so there "
    "is no link to send.",
    Reason.RECOVERY_URL_EXPIRED: "Stripe's link for this cart expires before the email would go.",
    Reason.UNKNOWN_TO_STRIPE: "Stripe, asked just before the email, had no such checkout for "
    "your account, whatever the webhook said.",
    Reason.UNSUBSCRIBED: "The address had unsubscribed from your marketing emails.",
    Reason.SUPPRESSED: "Emails to this address bounced, or it was erased on request.",
    Reason.LATER_SESSION: "Only a shopper's latest cart is emailed.",
    Reason.COMPLETED_ELSEWHERE: "There is nothing to recover: the shopper paid.",
    Reason.HOLDOUT: "The holdout share set in Settings keeps some carts un-emailed, to "
    "measure what the emails add.",
    Reason.FREQUENCY_CAP: "Another cart of this address was emailed within the frequency cap "
    "set in Settings (at most one recovery email per address in that many hours).",
}
# A failed re-check: what happened, and what the merchant can do about it.
REFUSED = {
    None: ("Stripe did not answer the re-check", "We never send without Stripe's answer."),
    "key_refused": (
        "Stripe refused the re-check: your Stripe key or connection was refused",
        "Connect Stripe again (or paste a new key) on the Connect Stripe page.",
    ),
    "permission_missing": (
        "Stripe refused the re-check: your key lacks a permission",
        "Give the key the permissions listed on the Connect Stripe page.",
    ),
}
# The shopper's own "no" (the sources of the subscriptions page), as a line of the story.
UNSUBSCRIBED = {
    ConsentSource.UNSUBSCRIBE_LINK: (
        "Shopper unsubscribed from your emails, with an email's unsubscribe link"
    ),
    ConsentSource.ONE_CLICK: "Shopper unsubscribed from your emails, with their mail app's button",
    ConsentSource.COMPLAINT: "Shopper marked an email as spam: unsubscribed from your emails",
}
FINISHED = {
    Reason.RECOVERED: "Finished: the cart was recovered",
    Reason.SEQUENCE_FINISHED: "Finished: no email of the sequence is left to send",
    Reason.RECOVERY_URL_EXPIRED: "Finished: the recovery link expired before the next email",
}


@dataclass(frozen=True)
class Entry:
    at: datetime
    title: str
    detail: str = ""
    tone: str = ""  # "" | "ok" | "bad": how the entry is marked
    due: datetime | None = None  # for a scheduled email: when it is due
    next_try: datetime | None = None  # for an email the mail server put off: when it is retried
    # Stripe's times have whole seconds, ours do not: within one second, Stripe's checkout and
    # expiry come first (0, 1), then ours by their time (2), then the recovery (5, 6).
    rank: int = 2


def events(case: RecoveryCase) -> list[CaseEvent]:
    """The case's recorded decisions and checks, oldest first."""
    return list(
        db.session.scalars(
            select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.id)
        )
    )


def unsubscribes(case: RecoveryCase, sends: list[EmailSend]) -> list[ConsentChange]:
    """The shopper's own unsubscribes of the cart's address since its first email went."""
    first = min((send.sent_at for send in sends if send.sent_at), default=None)
    if first is None or not case.session.email:
        return []
    stmt = select(ConsentChange).where(
        ConsentChange.merchant_id == case.merchant_id,
        ConsentChange.email == case.session.email,
        ConsentChange.source.in_(UNSUBSCRIBED),
        ConsentChange.occurred_at >= first,
    )
    return list(db.session.scalars(stmt.order_by(ConsentChange.occurred_at)))


def build(
    case: RecoveryCase,
    sends: list[EmailSend],
    recorded: list[CaseEvent],
    recovering: CheckoutSession | None,
    unsubscribed: list[ConsentChange] = (),
) -> list[Entry]:
    """Every entry of the case's story, oldest first."""
    s = case.session
    entries = [Entry(s.created_at, "Checkout started", _cart(s), rank=0)]
    if s.expired_at:
        entries.append(Entry(s.expired_at, "Checkout expired unpaid", rank=1))
    entries += [_recorded(event) for event in recorded]
    if not recorded and case.reason and case.reason != Reason.RECOVERED:
        entries.append(_decision_only(case))  # decided before the trace was kept
    for send in sends:
        entries += _send_entries(send)
    entries += [Entry(c.occurred_at, UNSUBSCRIBED[c.source], tone="bad") for c in unsubscribed]
    entries += _outcome(case, recovering)
    entries += _cancelled(case, sends, recorded)
    return sorted(entries, key=lambda e: (e.at.replace(microsecond=0), e.rank, e.at))


def _cart(s: CheckoutSession) -> str:
    if s.amount_total is None or not s.currency:
        return s.email or "A shopper with no address on file"
    who = s.email or "a shopper with no address on file"
    return f"{format_money(s.amount_total, s.currency)} by {who}"


def _recorded(event: CaseEvent) -> Entry:
    d = event.detail or {}
    if event.kind == trace.RECHECKED:
        later = d.get("later")
        return Entry(event.at, LATER.get(later, LATER[None]), tone="" if later is None else "bad")
    if event.kind == trace.RECHECK_FAILED:
        what, why = REFUSED.get(d.get("why"), REFUSED[None])
        return Entry(event.at, f"{what}: nothing sent, trying again later", why, "bad")
    return _decided(event.at, d)


def _decided(at: datetime, d: dict) -> Entry:
    step = (d.get("step") or 0) + 1
    action, reason = d.get("action"), d.get("reason")
    if action == Action.SEND:
        return Entry(at, f"Email {step} due now: checking with Stripe before sending")
    if action == Action.WAIT:
        due = datetime.fromisoformat(d["at"]) if d.get("at") else at
        return Entry(at, f"Email {step} scheduled", "", "", due)
    if action == Action.SKIP:
        return Entry(at, f"Stopped: {stopped_words(reason)}", WHY.get(reason, ""), "bad")
    # Only a recovery is good news; a sequence run out or a link expired are plain facts.
    return Entry(
        at, FINISHED.get(reason, "Finished"), "", "ok" if reason == Reason.RECOVERED else ""
    )


def stopped_words(reason: str | None) -> str:
    """A reason as the end of "Stopped: …" (the cart list's label starts a sentence of its own:
    "Not emailed: Stripe was not connected" becomes "Stripe was not connected")."""
    if reason == Reason.TEST_MODE:
        return "test-mode checkouts are recorded, never emailed"
    words = REASONS.get(reason, reason or "").removeprefix("Not emailed: ")
    return words if words.startswith("Stripe") else words[:1].lower() + words[1:]


def _decision_only(case: RecoveryCase) -> Entry:
    at = case.expired_at or case.created_at
    words = REASONS.get(case.reason) or FINISHED.get(case.reason, case.reason)
    return Entry(at, f"Decision: {words}", WHY.get(case.reason, ""))


SEND_END = {
    SendStatus.BOUNCED: ("bounced: the address will not be emailed again", "bad"),
    SendStatus.FAILED: ("could not be sent", "bad"),
    SendStatus.UNKNOWN: ("was interrupted while sending: it may not have arrived", "bad"),
    SendStatus.DEFERRED: ("is waiting to be tried again", ""),
}


def _send_entries(send: EmailSend) -> list[Entry]:
    n = send.step + 1
    out = []
    if send.sent_at:
        out.append(
            Entry(send.sent_at, f"Email {n} sent to {addresses.shown(send.to_address)}", tone="ok")
        )
    elif send.status in SEND_END:
        words, tone = SEND_END[send.status]
        retry = send.next_attempt_at if send.status == SendStatus.DEFERRED else None
        detail = error_words(send.last_error)
        out.append(Entry(send.created_at, f"Email {n} {words}", detail, tone, next_try=retry))
    else:
        out.append(
            Entry(
                send.created_at, f"Email {n} is being sent to {addresses.shown(send.to_address)}"
            )
        )
    if send.clicked_at:
        out.append(Entry(send.clicked_at, f"Shopper clicked the link in email {n}", tone="ok"))
    return out


def _outcome(case: RecoveryCase, recovering: CheckoutSession | None) -> list[Entry]:
    if case.recovered_at is None:
        if case.purchased_at:
            return [Entry(case.purchased_at, "The shopper paid in another checkout", rank=6)]
        return []
    out = []
    if recovering is not None:
        out.append(
            Entry(
                recovering.created_at, "Shopper reopened the cart from the recovery link", rank=5
            )
        )
    known = case.recovered_amount is not None and case.recovered_currency
    amount = format_money(case.recovered_amount, case.recovered_currency) if known else ""
    paid = f"Paid {amount}: recovered".replace("  ", " ")
    out.append(Entry(case.recovered_at, paid, tone="ok", rank=6))
    return out


def _cancelled(case: RecoveryCase, sends: list[EmailSend], recorded: list[CaseEvent]) -> list:
    """The email the last decision scheduled, when the cart was paid for before it went: it
    never will (the engine stops at a payment without recording another decision)."""
    decisions = [e.detail or {} for e in recorded if e.kind == trace.DECIDED]
    ended = case.recovered_at or case.purchased_at
    if not decisions or decisions[-1].get("action") != Action.WAIT or ended is None:
        return []
    step = decisions[-1].get("step") or 0
    if any(send.step == step for send in sends):
        return []
    why = "the cart was recovered" if case.recovered_at else "the shopper paid in another checkout"
    return [Entry(ended, f"Email {step + 1} will not be sent: {why}", rank=7)]
