"""Recovery end to end: a worker killed or Stripe away mid-send never sends twice or blind."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.db import utcnow
from portal.models import EmailSend
from portal.services import recovery, sending
from recovery_flow_kit import retry_due


def _expired_case(kit, email: str) -> int:
    """The case of a consenting shopper's expired cart, its event applied, not yet looked at."""
    session_id = kit.checkout(email)
    kit.action(session_id, "expire")
    kit.drain()
    return kit.case(session_id).id


def test_a_worker_killed_before_the_mail_server_heard_of_it_is_sent_again_once(
    kit, db, monkeypatch
):
    case_id = _expired_case(kit, "gus@example.com")

    def die(*args):  # the process is killed right after the claim was committed
        raise SystemExit("killed")

    with monkeypatch.context() as patch, pytest.raises(SystemExit):
        patch.setattr(sending, "_compose", die)
        kit.run(recovery.process, case_id)
    db.rollback()
    assert db.scalars(select(EmailSend.status)).one() == "claimed"
    # The step is taken: another look sends nothing while the claim may still be alive.
    assert kit.run(recovery.process, case_id) == "sequence_finished"
    assert kit.run(sending.expire_claims, now=utcnow() + timedelta(minutes=11)) == 1
    send = db.scalars(select(EmailSend)).one()
    assert send.status == "deferred" and "before the mail server heard of it" in send.last_error
    assert kit.run(retry_due, utcnow() + timedelta(minutes=12)) == 1
    kit.settle()
    assert [list(m.rcpt_tos) for m in kit.sink.messages] == [["gus@example.com"]]
    db.expire_all()
    assert db.scalars(select(EmailSend.status)).one() == "sent"


def test_a_worker_killed_while_the_mail_server_had_it_leaves_unknown_never_resent(
    kit, db, monkeypatch
):
    case_id = _expired_case(kit, "guy@example.com")

    def die(*args):  # killed during the SMTP conversation: the server may have taken it
        raise SystemExit("killed")

    with monkeypatch.context() as patch, pytest.raises(SystemExit):
        patch.setattr(sending.delivery, "send", die)
        kit.run(recovery.process, case_id)
    db.rollback()
    send = db.scalars(select(EmailSend)).one()
    assert send.status == "claimed" and send.handed_at is not None
    assert kit.run(sending.expire_claims, now=utcnow() + timedelta(minutes=11)) == 1
    db.expire_all()
    assert db.scalars(select(EmailSend.status)).one() == "unknown"
    kit.settle()
    assert kit.sink.messages == []


def test_the_sweep_and_a_slow_worker_never_both_send_a_claim(kit, db, monkeypatch):
    case_id = _expired_case(kit, "ivy@example.com")
    real = sending._hand_off

    def slow_hand_off(send):  # the sweep gave the claim up before this worker got here
        kit.run(sending.expire_claims, now=utcnow() + timedelta(minutes=11))
        return real(send)

    with monkeypatch.context() as patch:
        patch.setattr(sending, "_hand_off", slow_hand_off)
        assert kit.run(recovery.process, case_id) == "already_claimed"
    assert kit.sink.messages == []
    assert kit.run(retry_due, utcnow() + timedelta(minutes=12)) == 1
    kit.settle()
    assert [list(m.rcpt_tos) for m in kit.sink.messages] == [["ivy@example.com"]]


def test_stripe_unreachable_at_send_time_means_wait_never_send_blind(kit, db, app, monkeypatch):
    session_id = kit.checkout("ned@example.com")
    kit.action(session_id, "expire")
    kit.drain()
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")
    case_id = kit.case(session_id).id
    assert kit.run(recovery.process, case_id) == "stripe_unavailable"
    case = kit.case(session_id)
    assert (
        case.status == "scheduled" and case.next_action_at > utcnow() and kit.sink.messages == []
    )
    retry_at = case.next_action_at
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", kit.sandbox.base)
    assert kit.run(recovery.process, case_id, now=retry_at) == "sent"
    assert len(kit.sink.messages) == 1
    # The trace keeps both looks: Stripe silent (and when to look again), then Stripe's answer.
    from portal.models import CaseEvent

    trace = [(e.kind, e.detail) for e in db.query(CaseEvent).filter_by(case_id=case_id)]
    assert [kind for kind, _ in trace] == ["recheck_failed", "rechecked", "decided"]
    assert trace[0][1]["retry_at"] == retry_at.isoformat()
    assert trace[1][1] == {"later": None, "step": 0}
    assert trace[2][1]["reason"] == "sequence_finished"
