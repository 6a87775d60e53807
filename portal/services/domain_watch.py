"""The periodic re-check of sending domains: DNS asked again, and the owner told once when a
domain that signed the emails stops verifying (they go from the platform's sender meanwhile)."""

from __future__ import annotations

from datetime import datetime

from portal import db
from portal.models import DomainStatus, SendingDomain
from portal.services import account_emails, accounts, domains


def recheck(domain_id: int, now: datetime) -> str | None:
    """Check one domain's records and store the result; email the owner if it is failing and
    nobody has yet (one email per break, whoever noticed it: this job or "Verify now"). An
    email the mail server did not take is tried again by the next check. Commits: the result
    must hold before an email about it goes out. Safe to run twice."""
    row = db.session.get(SendingDomain, domain_id)
    if row is None:
        return None
    db.session.commit()  # no transaction is held while DNS answers (as "Verify now" does)
    result = domains.verify(row, now)
    db.session.commit()
    if row.status == DomainStatus.FAILING and domains.claim_owner_notice(row, now):
        db.session.commit()  # one claim per break, held while the mail server answers
        told = False
        try:
            told = _tell_owner(row, _problem(result.checks))
        finally:
            if not told:  # given back, whatever stopped the email: the next check tries again
                db.session.rollback()
                domains.release_owner_notice(row, now)
                db.session.commit()
    return row.status


def _tell_owner(row: SendingDomain, problem: str) -> bool:
    """Whether the owner was told (a merchant without an owner has nobody to tell)."""
    owner = accounts.owner_of(row.merchant_id)
    return owner is None or account_emails.send_domain_broken(row, owner, problem)


PROBLEMS = {
    domains.CheckState.MISSING: "the record is missing",
    domains.CheckState.WRONG: "the record holds another key",
}


def _problem(checks: list[domains.Check]) -> str:
    dkim = next((check for check in checks if check.kind == "dkim"), None)
    return PROBLEMS.get(dkim.state if dkim else None, "the record could not be checked")
