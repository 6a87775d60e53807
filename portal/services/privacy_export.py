"""A person's data, as the privacy export gives it: everything one merchant holds about one
address, as JSON-able values (times ISO 8601 UTC), each code beside its words."""

from __future__ import annotations

from datetime import datetime

from portal.models import EmailSend, Merchant, RecoveryCase
from portal.services import carts
from portal.services.subscriptions import checkouts_of, held_contact, ledger_of, normalize
from portal.services import consent_authors
from portal.services.subscriptions import rejected_rows_of, sends_to, source_words


def export_person(merchant: Merchant, email: str) -> dict:
    """Everything this merchant holds about one address, as JSON-able values (times ISO 8601
        UTC): its status, every ledger entry (with who made it, in words: a team member, an upload
    and its line, the shopper), every checkout with its case, every email sent, and every
    rejected row of an upload that holds it."""
    email = normalize(email)
    contact = held_contact(merchant, email)
    sends = sends_to(merchant, email, None)
    changes = list(reversed(ledger_of(merchant, email)))
    return {
        "email": email,
        "merchant": merchant.name,
        "contact": contact and _pick(contact, CONTACT_KEYS) | _words(contact),
        "consent_history": [
            _pick(c, CHANGE_KEYS) | _words(c) | {"by": who}
            for c, (who, *_) in zip(changes, consent_authors.of(merchant, changes))
        ],
        "checkout_sessions": [
            _pick(s, SESSION_KEYS) | {"recovery_case": case and _case_json(case, sends)}
            for s, case in checkouts_of(merchant, email, None)
        ],
        "emails_sent": [
            _pick(s, SEND_KEYS)
            | {"email": f"Email {s.step + 1}", "status": carts.SEND_STATUS.get(s.status, s.status)}
            for s in sends
        ],
        "rejected_csv_rows": [
            _pick(r, REJECT_KEYS)
            | {"file": imp.filename, "uploaded_at": imp.created_at.isoformat()}
            for r, imp in rejected_rows_of(merchant, email)
        ],
    }


CONTACT_KEYS = ("status", "updated_at", "source", "suppressed_at", "suppressed_reason")
CHANGE_KEYS = ("status", "source", "source_ref", "occurred_at", "recorded_at")
SESSION_KEYS = (
    *("session_id", "livemode", "status", "amount_total", "currency", "customer_name"),
    *("consent_promotions", "created_at", "expired_at", "completed_at"),
)
CASE_KEYS = ("status", "reason", "recovered_at", "recovered_amount", "recovered_currency")
SEND_KEYS = ("case_id", "step", "created_at", "sent_at", "clicked_at")
REJECT_KEYS = ("import_id", "line", "value", "status_cell", "date_cell", "reason")


def _pick(row, keys: tuple[str, ...]) -> dict:
    values = {key: getattr(row, key) for key in keys}
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}


def _words(row) -> dict:
    """The source in words, as the pages say it ("CSV upload" beside the code "csv"; a
    checkout's with its answer: "Checkout: agreed to marketing emails")."""
    return {"source_in_words": source_words(row.source, row.status)}


def _case_json(case: RecoveryCase, sends: list[EmailSend]) -> dict:
    own = sorted((s for s in sends if s.case_id == case.id), key=lambda s: s.step)
    return _pick(case, CASE_KEYS) | {"id": case.id, "decision": carts.describe(case, own)}
