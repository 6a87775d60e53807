"""The recovery rules replayed over past cases, from the database alone (the dry run's engine).

Each case is decided step by step at the due time of each step, with the facts as they stood
then: later checkouts from the session mirror (never Stripe), unsubscribes and bounces from the
consent ledger, the emails already known before the period, and the emails the replay itself
would have sent to the same address (the frequency cap). It only reads: nothing is sent, asked
of Stripe or changed."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, or_, select

from portal import db
from portal.models import CheckoutSession, ConsentChange, ConsentStatus, Contact, EmailSend
from portal.models import RecoveryCase, SessionStatus
from portal.services import case_context, erasure, rules

EMAILED, WAITING, RECOVERED = "emailed", "waiting", str(rules.Reason.RECOVERED)
MAX_LOOKS = 4 * rules.MAX_STEPS + 4  # per case: each send or deferral is one look


@dataclass(frozen=True)
class Outcome:
    """What the rules would have done with one case."""

    kind: str  # EMAILED, WAITING (its first email not due yet), or why it was never emailed
    emails: int = 0  # the first email and its follow-ups
    to_team: bool = False  # a test-mode cart, emailed to the team instead of the shopper


@dataclass
class _Sim:
    """One case being replayed: when it is next looked at, and what it sent so far."""

    case: RecoveryCase
    session: CheckoutSession
    at: datetime
    steps: set[int] = field(default_factory=set)
    sent: list[datetime] = field(default_factory=list)
    team: bool = False
    looks: int = 0
    kind: str | None = None


@dataclass
class _World:
    """What the database knows of the shoppers of one batch."""

    shoppers: dict[str, list[CheckoutSession]]  # "e:<email>" / "c:<customer>" -> sessions
    ledger: dict[str, list[tuple[datetime, str]]]  # address -> (when, consent status)
    suppressed: dict[str, datetime]  # address -> when it bounced or complained
    erased: set[str]
    prior: dict[str, datetime]  # address -> the latest email before the period

    def later(self, session: CheckoutSession, t: datetime) -> str | None:
        """The shopper's most telling checkout started after this one and by `t` (same mode,
        same customer or address), as it stood at `t`."""
        mine = (session.created_at, session.id)
        found = {s.id: s for key in _keys(session) for s in self.shoppers.get(key, ())}
        later = [
            s
            for s in found.values()
            if s.livemode == session.livemode and mine < (s.created_at, s.id) and s.created_at <= t
        ]
        if any(s.status == SessionStatus.COMPLETE and _completed(s) <= t for s in later):
            return SessionStatus.COMPLETE
        return SessionStatus.OPEN if later else None

    def unsubscribed(self, email: str | None, t: datetime) -> bool:
        """Whether the address's latest consent change by `t` was an unsubscribe (on a tie,
        the unsubscribe wins: never email on a doubt)."""
        known = [(at, status == ConsentStatus.UNSUBSCRIBED) for at, status in self.ledger[email]]
        latest = max((entry for entry in known if entry[0] <= t), default=None)
        return latest is not None and latest[1]

    def facts(self, sim: _Sim, sims: list[_Sim]) -> rules.Facts:
        session, case, t = sim.session, sim.case, sim.at
        others = [at for o in sims if o is not sim and not o.team for at in o.sent if at <= t]
        if session.email in self.prior:
            others.append(self.prior[session.email])
        bounced = self.suppressed.get(session.email)
        return rules.Facts(
            **case_context.session_facts(case, session),
            recovered=case.recovered_at is not None and case.recovered_at <= t,
            unsubscribed=self.unsubscribed(session.email, t),
            suppressed=session.email in self.erased or (bounced is not None and bounced <= t),
            later_session=self.later(session, t),
            steps_done=frozenset(sim.steps),
            last_other_email_at=max(others, default=None),
            last_own_email_at=max(sim.sent, default=None),
        )


def outcomes(
    merchant_id: int,
    ids: list[int],
    policy: rules.Policy,
    span: tuple[datetime, datetime],
    now: datetime,
) -> dict[int, Outcome]:
    """What the rules under `policy` would have done with each of these cases, up to `now`.
    The other cases of the same addresses expired in `span` are replayed beside them (for the
    frequency cap), but only these are returned."""
    batch = _cases(merchant_id, RecoveryCase.id.in_(ids))
    emails = {session.email for _, session in batch if session.email}
    peers = []
    if emails:
        in_span = (RecoveryCase.expired_at >= span[0], RecoveryCase.expired_at < span[1])
        peers = _cases(merchant_id, CheckoutSession.email.in_(emails), *in_span)
    world = _world(merchant_id, batch + peers, span[0])
    groups: dict[str, dict[int, _Sim]] = defaultdict(dict)
    for case, session in batch + peers:
        key = session.email or f"#{case.id}"
        groups[key][case.id] = _Sim(case, session, case_context.expired_at(case, session))
    wanted, found = set(ids), {}
    for sims in groups.values():
        _replay(list(sims.values()), world, policy, now)
        found.update(
            {i: Outcome(s.kind, len(s.sent), s.team) for i, s in sims.items() if i in wanted}
        )
    return found


def _replay(sims: list[_Sim], world: _World, policy: rules.Policy, now: datetime) -> None:
    """Replay the cases of one address together, always the one due first, so that each sees
    the emails the others would have sent before it."""
    while live := [sim for sim in sims if sim.kind is None]:
        sim = min(live, key=lambda s: (s.at, s.case.id))
        sim.looks += 1
        if sim.at > now or sim.looks > MAX_LOOKS:
            sim.kind = EMAILED if sim.sent else WAITING
            continue
        decision = rules.decide(world.facts(sim, sims), policy, sim.at)
        if decision.action == rules.Action.SEND:
            sim.steps.add(decision.step)
            sim.sent.append(sim.at)
            sim.team = decision.to_team
        elif decision.action == rules.Action.WAIT and decision.at > sim.at:
            sim.at = decision.at
        else:
            sim.kind = EMAILED if sim.sent else str(decision.reason or WAITING)


def _cases(merchant_id: int, *where) -> list[tuple[RecoveryCase, CheckoutSession]]:
    rows = db.session.execute(
        select(RecoveryCase, CheckoutSession)
        .join(CheckoutSession, CheckoutSession.id == RecoveryCase.checkout_session_id)
        .where(RecoveryCase.merchant_id == merchant_id, *where)
    )
    return [tuple(row) for row in rows]


def _world(merchant_id: int, rows: list, since: datetime) -> _World:
    """Everything the replay reads of these cases' shoppers, in a few queries."""
    emails = {session.email for _, session in rows if session.email}
    customers = {session.customer for _, session in rows if session.customer}
    shoppers = defaultdict(list)
    for session in db.session.scalars(
        select(CheckoutSession).where(
            CheckoutSession.merchant_id == merchant_id,
            or_(CheckoutSession.email.in_(emails), CheckoutSession.customer.in_(customers)),
        )
    ):
        for key in _keys(session):
            shoppers[key].append(session)
    ledger, suppressed = _consent(merchant_id, emails)
    prior = db.session.execute(
        select(EmailSend.to_address, func.max(EmailSend.created_at))
        .where(
            EmailSend.merchant_id == merchant_id,
            EmailSend.to_address.in_(emails),
            EmailSend.created_at < since,
        )
        .group_by(EmailSend.to_address)
    )
    return _World(
        shoppers, ledger, suppressed, erasure.erased_among(merchant_id, emails), dict(prior.all())
    )


def _consent(merchant_id: int, emails: set[str]) -> tuple[dict, dict]:
    """Each address's consent changes (the ledger and the current status), and its bounce."""
    ledger, suppressed = defaultdict(list), {}
    for email, status, at in db.session.execute(
        select(ConsentChange.email, ConsentChange.status, ConsentChange.occurred_at).where(
            ConsentChange.merchant_id == merchant_id, ConsentChange.email.in_(emails)
        )
    ):
        ledger[email].append((at, status))
    for contact in db.session.scalars(
        select(Contact).where(Contact.merchant_id == merchant_id, Contact.email.in_(emails))
    ):
        ledger[contact.email].append((contact.updated_at, contact.status))
        if contact.suppressed_at is not None:
            suppressed[contact.email] = contact.suppressed_at
    return ledger, suppressed


def _keys(session: CheckoutSession) -> list[str]:
    """How a shopper is known: by address and by Stripe customer (as Stripe's rule on a later session knows them)."""
    keys = [f"e:{session.email}"] if session.email else []
    return keys + [f"c:{session.customer}"] if session.customer else keys


def _completed(session: CheckoutSession) -> datetime:
    return session.completed_at or session.state_at
