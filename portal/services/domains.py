"""A merchant's custom sending domain: its DKIM key, the DNS records to publish, their
checks, and the signer mail uses once the domain is verified.

The DKIM record alone decides the status: mail From the merchant's domain passes DMARC through
the signature (d= is that domain) while the envelope sender stays the platform's, so SPF and
DMARC are checked and explained, never held against the domain. A DNS outage ("unreachable")
is never taken for a broken record.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import or_, select, update

from portal import db, sealing
from portal.mail import dkim
from portal.models import DomainStatus, Merchant, SendingDomain
from portal.services.domain_dns import (  # noqa: F401  (re-exported: pages use them as domains.*)
    SUGGESTED_DMARC,
    Check,
    CheckState,
    check,
    resolver_from,
)
from portal.services import throttle
from portal.services.domain_names import (  # noqa: F401  (re-exported, as above)
    DomainError,
    display,
    display_address,
    normalize,
)

# Each new domain makes a 2048-bit key (a fraction of a second of a worker's CPU): an owner's
# trial and error stays well inside this; a script replacing its domain in a loop does not.
NEW_KEYS_PER_HOUR = 10
_ATEXT = r"[A-Za-z0-9_+-]+"  # what the page offers; "=?" or a quote reads oddly in From
_DOT_ATOM = re.compile(rf"{_ATEXT}(\.{_ATEXT})*")


class KeyLimit(DomainError):
    """The merchant made NEW_KEYS_PER_HOUR new domains within the hour; the message says so."""


@dataclass(frozen=True)
class Record:
    """One DNS record to publish, exactly as it goes into the merchant's DNS."""

    kind: str  # "dkim" | "spf" | "dmarc"
    host: str  # the full name
    value: str  # "" when there is nothing to publish (SPF without SPF_INCLUDE)
    explanation: str
    required: bool = False  # only DKIM decides whether the domain is verified
    type: str = "TXT"


@dataclass(frozen=True)
class Verification:
    status: DomainStatus
    broke: bool  # this check moved the domain from verified to failing
    checks: list[Check]


def current(merchant: Merchant) -> SendingDomain | None:
    """The merchant's sending domain, whatever its status; None when it has none."""
    return db.session.scalar(select(SendingDomain).filter_by(merchant_id=merchant.id))


def create(merchant: Merchant, domain_text: str, local_part: str = "hello") -> SendingDomain:
    """A pending domain for `merchant` with a new 2048-bit DKIM key (sealed with ENCRYPTION_KEY)
    and selector, in place of its previous one; DomainError for a bad input. The same domain
    again only changes the From address: the key, its published records and the domain's
    status are the domain's, not the mailbox's, and stay. KeyLimit after NEW_KEYS_PER_HOUR new
    keys within the hour. Caller commits (the new key is counted then)."""
    domain, local_part = normalize(domain_text), _local_part(local_part)
    previous = current(merchant)
    if previous is not None and previous.domain == domain:
        previous.local_part = local_part
        return previous
    _count_new_key(merchant)
    pem, public_key = dkim.new_key()
    selector = _new_selector(domain)  # before the old row goes: its selector stays taken
    if previous is not None:
        db.session.delete(previous)
        db.session.flush()  # merchant_id is unique: the old row goes before the new one
    row = SendingDomain(
        merchant_id=merchant.id,
        domain=domain,
        local_part=local_part,
        selector=selector,
        private_key_sealed=sealing.seal(pem.decode(), current_app.config["ENCRYPTION_KEY"]),
        public_key=public_key,
        status=DomainStatus.PENDING,
        checks={},
    )
    db.session.add(row)
    return row


def _count_new_key(merchant: Merchant) -> None:
    key = f"domain-key:{merchant.id}"
    throttle.hold([key])  # two saves at once count one after the other
    if throttle.count(key, timedelta(hours=1)) >= NEW_KEYS_PER_HOUR:
        raise KeyLimit(
            f"Nothing was changed: a new domain makes a new DKIM key, and {NEW_KEYS_PER_HOUR} "
            "were made in the last hour, the most for one hour. Please try again later."
        )
    throttle.hit(key)


def _local_part(text: str) -> str:
    text = (text or "").strip()
    if not (text.isascii() and len(text) <= 64 and _DOT_ATOM.fullmatch(text)):
        raise DomainError(
            "The part before the @ may hold letters, digits, dots, - _ and + "
            "(64 at most, no dot at either end), for example hello."
        )
    return text


def _new_selector(domain: str) -> str:
    """cr + year and month + 4 hex digits (cr202612a7f3), unused for `domain` by any merchant:
    a record still published for an old key must not stand in for the new one."""
    taken = set(db.session.scalars(select(SendingDomain.selector).filter_by(domain=domain)))
    while True:
        selector = f"cr{db.utcnow():%Y%m}{secrets.token_hex(2)}"
        if selector not in taken:
            return selector


def records(row: SendingDomain, spf_include: str) -> list[Record]:
    """The DKIM, SPF and DMARC records to publish, written for the last check: an SPF record
    found is extended (never doubled), a DMARC record found is kept."""
    found = {kind: c.found for kind, c in last_checks(row).items()}
    dkim_record = Record(
        "dkim",
        f"{row.selector}._domainkey.{row.domain}",
        f"v=DKIM1; k=rsa; p={row.public_key}",
        "Required: it publishes the key that signs your emails; once it is found they go out "
        f"from {row.from_address}. A DNS host may split the value into strings: that is fine.",
        required=True,
    )
    spf = _spf_record(row.domain, spf_include, found.get("spf", ()))
    dmarc, why = SUGGESTED_DMARC, "Recommended: Gmail and Yahoo ask bulk senders for one. "
    why += "p=none only asks receivers for reports: it changes nothing about delivery."
    if found.get("dmarc"):
        dmarc, why = found["dmarc"][0], "You publish DMARC already: keep your record."
    return [dkim_record, spf, Record("dmarc", f"_dmarc.{row.domain}", dmarc, why)]


def _spf_record(domain: str, include: str, found: tuple[str, ...]) -> Record:
    if not include:
        why = "Not needed: your emails pass DMARC through DKIM. Keep any SPF record you have."
        return Record("spf", domain, "", why)
    term = f"include:{include}"
    value, why = f"v=spf1 {term} ~all", "Recommended: it names our servers as senders for "
    why += "your domain. A domain has one SPF record only."
    if len(found) == 1:  # add the include to the one there is
        words = found[0].split()
        if term.lower() in {word.lstrip("+").lower() for word in words}:
            return Record("spf", domain, found[0], "Your SPF record names our servers: keep it.")
        value = " ".join([words[0], term, *words[1:]])
        why = f"You have an SPF record: replace it with this one, which adds {term}. "
        why += "Do not publish a second SPF record: with two, SPF fails."
    return Record("spf", domain, value, why)


def verify(row: SendingDomain, now: datetime, resolver=None) -> Verification:
    """Check `row`'s records, store the result and move its status on the DKIM record alone:
    pending or failing -> verified when it is right, verified -> failing when it is missing or
    wrong (`broke`); an unreachable DNS changes nothing. The caller commits."""
    config = current_app.config
    checks = check(row, resolver or resolver_from(config), config.get("SPF_INCLUDE", ""))
    row.checks = {c.kind: asdict(c) for c in checks}
    row.checked_at, state, broke = now, checks[0].state, False
    if state == CheckState.OK and row.status != DomainStatus.VERIFIED:
        row.status, row.verified_at = DomainStatus.VERIFIED, now
        row.failing_since = row.owner_notified_at = None  # so that a later break is told too
    elif state in (CheckState.MISSING, CheckState.WRONG) and row.status == DomainStatus.VERIFIED:
        row.status, row.failing_since, broke = DomainStatus.FAILING, now, True
    return Verification(DomainStatus(row.status), broke, checks)


def last_checks(row: SendingDomain) -> dict[str, Check]:
    """The last check's results by kind, as stored ({} before the first check)."""
    stored = (row.checks or {}).items()
    return {
        k: Check(k, CheckState(c["state"]), c["message"], tuple(c["found"])) for k, c in stored
    }


def remove(merchant: Merchant) -> bool:
    """Forget the merchant's sending domain and its key (mail goes from the platform's sender
    again); whether there was one. The caller commits."""
    row = current(merchant)
    if row is not None:
        db.session.delete(row)
    return row is not None


def due_for_recheck(
    now: datetime, every: timedelta = timedelta(hours=1), limit: int | None = None
) -> list[int]:
    """Ids of the domains unchecked for `every` (or ever), the longest waiting first; at most
    `limit` of them."""
    column = SendingDomain.checked_at
    query = select(SendingDomain.id).where(or_(column.is_(None), column < now - every))
    query = query.order_by(column.asc().nulls_first(), SendingDomain.id).limit(limit)
    return list(db.session.scalars(query))


def claim_owner_notice(row: SendingDomain, now: datetime) -> bool:
    """True for one caller only per break of a failing domain, the one to email the owner: it
    sets owner_notified_at in the database. Commit before sending the email."""
    result = db.session.execute(
        update(SendingDomain)
        .where(SendingDomain.id == row.id, SendingDomain.owner_notified_at.is_(None))
        .where(SendingDomain.status == DomainStatus.FAILING)
        .values(owner_notified_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount == 1:
        row.owner_notified_at = now
    return result.rowcount == 1


def release_owner_notice(row: SendingDomain, claimed_at: datetime) -> None:
    """Give back a claim of claim_owner_notice whose email did not go, so that the next check
    tells the owner; a claim of another break (or none) is left alone. The caller commits."""
    db.session.execute(
        update(SendingDomain)
        .where(SendingDomain.id == row.id, SendingDomain.owner_notified_at == claimed_at)
        .values(owner_notified_at=None)
        .execution_options(synchronize_session=False)
    )
    row.owner_notified_at = None


def signer_for(row: SendingDomain | None) -> dkim.Signer | None:
    """The DKIM signer of a verified domain; None when there is no verified domain (mail then
    goes from the platform's sender, with the merchant's Reply-To)."""
    if row is None or row.status != DomainStatus.VERIFIED:
        return None
    pem = sealing.open_sealed(row.private_key_sealed, current_app.config["ENCRYPTION_KEY"])
    return dkim.Signer(row.domain, row.selector, pem.encode())
