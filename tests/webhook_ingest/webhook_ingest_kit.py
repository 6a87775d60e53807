"""Reading back the Stripe events the webhook endpoints stored."""

from __future__ import annotations

from sqlalchemy import select

from portal.models import StripeEvent


def _stored(db) -> list[StripeEvent]:
    db.expire_all()
    return list(db.scalars(select(StripeEvent).order_by(StripeEvent.id)))
