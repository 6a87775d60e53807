"""Delivering Stripe events like Stripe does, and reading back the state they leave."""

from __future__ import annotations

from sqlalchemy import select

import stripe_events as se
from portal.models import CheckoutSession, ConsentChange, Contact, RecoveryCase
from portal.services import events

ACCT = "acct_1ExampleMerchant01"
T0 = 1_790_000_000


def deliver(client, sequence, one_batch: bool = True) -> None:
    """Post each event like Stripe, applying them together or one by one."""
    for event in sequence:
        assert se.post(client, event).status_code == 200
        if not one_batch:
            events.drain()
    events.drain()


def state(db) -> dict:
    """Everything the pipeline derives, in a comparable form."""
    db.expire_all()
    mirrors = {
        m.session_id: (m.status, m.payment_status, m.async_result, m.email, m.recovered_from)
        for m in db.scalars(select(CheckoutSession))
    }
    cases = {
        c.session.session_id: (c.recovered_session_id, c.recovered_amount, c.recovered_currency)
        for c in db.scalars(select(RecoveryCase))
    }
    contacts = {c.email: c.status for c in db.scalars(select(Contact))}
    ledger = sorted((c.email, c.status, c.source_ref) for c in db.scalars(select(ConsentChange)))
    db.rollback()  # end the read: on SQLite an open transaction would not see later webhooks
    return {"mirrors": mirrors, "cases": cases, "contacts": contacts, "ledger": ledger}
