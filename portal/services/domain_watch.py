"""The periodic re-check of sending domains: DNS asked again, and the owner told once when a
domain that signed the emails stops verifying (they go from the platform's sender meanwhile)."""

from __future__ import annotations

from datetime import datetime


from portal import db
from portal.models import DomainStatus, SendingDomain
from portal.services import account_emails, accounts, domains


def recheck(domain_id: int, now: datetime) -> str | None:
    """Check one domain's records and store the result; email the owner if it is failing and
    nobody has yet (one email per break, whoever noticed it: this job or "Verify now").
    Commits: the result must hold before an email about it goes out. Safe to run twice."""
    row = db.session.get(SendingDomain, domain_id)
    if row is None:
        return None
    db.session.commit()  # no transaction is held while DNS answers (as "Verify now" does)
    result = domains.verify(row, now)
    db.session.commit()
    if row.status == DomainStatus.FAILING and domains.claim_owner_notice(row, now):
        db.session.commit()
        owner = accounts.owner_of(row.merchant_id)
        if owner is not None:
            account_emails.send_domain_broken(row, owner, _problem(result.checks))
    return row.status


PROBLEMS = {
    domains.CheckState.MISSING: "the record is missing",
    domains.CheckState.WRONG: "the record holds another key",
}


def _problem(checks: list[domains.Check]) -> str:
    dkim = next((check for check in checks if check.kind == "dkim"), None)
    return PROBLEMS.get(dkim.state if dkim else None, "the record could not be checked")
