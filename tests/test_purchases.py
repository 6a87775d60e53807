"""Whether the shopper of an expired cart paid afterwards (the holdout comparison's measure):
matched by address or by customer, both together, recomputed so a failed delayed payment takes
it back."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from factories import make_owner
from portal.models import CheckoutSession, RecoveryCase
from portal.services import purchases

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)


def _session(db, merchant_id, sid, created, status, **kw):
    s = CheckoutSession(
        merchant_id=merchant_id,
        session_id=sid,
        livemode=True,
        created_at=created,
        status=status,
        amount_total=1000,
        currency="usd",
        state_at=created + timedelta(hours=1),
        payment_status=kw.pop("payment_status", "unpaid"),
        **kw,
    )
    db.add(s)
    db.flush()
    return s


def _abandoned(db, merchant_id, **shopper):
    s = _session(
        db, merchant_id, "cs_a", T0, "expired", expired_at=T0 + timedelta(hours=1), **shopper
    )
    case = RecoveryCase(merchant_id=merchant_id, checkout_session_id=s.id, expired_at=s.expired_at)
    db.add(case)
    db.flush()
    return s, case


def _paid(db, merchant_id, sid, minutes, **shopper):
    at = T0 + timedelta(hours=2, minutes=minutes)
    return _session(
        db, merchant_id, sid, at, "complete", payment_status="paid", completed_at=at, **shopper
    )


def test_a_purchase_by_address_counts_when_the_cart_also_had_a_customer(db):
    merchant_id = make_owner(email="o@shop.example").merchant_id
    cart, case = _abandoned(db, merchant_id, email="x@example.com", customer="cus_1")
    guest = _paid(db, merchant_id, "cs_b", 5, email="x@example.com")  # a guest checkout
    purchases.refresh([cart, guest])
    assert case.purchased_at == guest.completed_at


def test_a_purchase_by_customer_counts_under_another_address(db):
    merchant_id = make_owner(email="o@shop.example").merchant_id
    cart, case = _abandoned(db, merchant_id, email="x@example.com", customer="cus_1")
    other = _paid(db, merchant_id, "cs_c", 9, email="new@example.com", customer="cus_1")
    purchases.refresh([other])  # only the purchase is in the batch
    assert case.purchased_at == other.completed_at


def test_a_failed_delayed_payment_takes_the_purchase_back_and_others_stay_apart(db):
    merchant_id = make_owner(email="o@shop.example").merchant_id
    stranger = make_owner(email="p@other.example").merchant_id
    cart, case = _abandoned(db, merchant_id, email="x@example.com")
    _paid(db, stranger, "cs_elsewhere", 1, email="x@example.com")  # another merchant's sale
    late = _paid(db, merchant_id, "cs_d", 3, email="x@example.com")
    purchases.refresh([late])
    assert case.purchased_at == late.completed_at
    late.payment_status, late.async_result = "unpaid", "failed"
    purchases.refresh([late])
    assert case.purchased_at is None
