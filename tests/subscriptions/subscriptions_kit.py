"""Shared pieces for the subscriptions pages tests: contacts, ledger rows, checkouts and carts."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert

from portal import db as portal_db
from portal.models import CheckoutSession, Contact, EmailSend, RecoveryCase
from portal.services import consent

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def _contacts(merchant_id: int, emails, status="subscribed", source="checkout_session"):
    rows = [
        dict(merchant_id=merchant_id, email=e, status=status, updated_at=T0, source=source)
        for e in emails
    ]
    portal_db.session.execute(insert(Contact), rows)
    portal_db.session.commit()


def _ledger(merchant_id, email, status, source, ref, when):
    consent.record([consent.Change(merchant_id, email, status, source, ref, when)])
    portal_db.session.commit()


def _checkout(merchant_id, email, session_id, **fields) -> CheckoutSession:
    """A checkout of €27.50 with `email`: expired unpaid after a tick, unless `fields` say
    otherwise (flushed, not committed)."""
    defaults = dict(
        livemode=True,
        created_at=T0,
        expired_at=T0 + timedelta(hours=24),
        status="expired",
        payment_status="unpaid",
        amount_total=2750,
        currency="eur",
        customer_name="Ola Nordmann",
        consent_promotions="opt_in",
        state_at=T0,
    )
    session = CheckoutSession(
        merchant_id=merchant_id, session_id=session_id, email=email, **(defaults | fields)
    )
    portal_db.session.add(session)
    portal_db.session.flush()
    return session


def _cart(merchant_id, email, session_id, sent=True, name="Ola Nordmann"):
    """An expired checkout with its case and, when `sent`, one email sent for it."""
    session = _checkout(merchant_id, email, session_id, customer_name=name)
    case = RecoveryCase(merchant_id=merchant_id, checkout_session_id=session.id, status="done")
    portal_db.session.add(case)
    portal_db.session.flush()
    if sent:
        portal_db.session.add(
            EmailSend(
                merchant_id=merchant_id,
                case_id=case.id,
                step=0,
                to_address=email,
                status="sent",
                message_id=f"<{session_id}@portal.example>",
                sent_at=T0 + timedelta(hours=25),
            )
        )
    portal_db.session.commit()
    return case


def _listing(client, **params) -> str:
    response = client.get("/subscriptions", query_string=params)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _addresses(html: str) -> list[str]:
    found = re.findall(r'<a class="address" href="[^"]+">(.*?)</a>', html)
    return [shown.replace("<wbr>", "") for shown in found]  # break points for narrow columns
