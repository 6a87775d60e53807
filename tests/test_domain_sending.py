"""Mail From a merchant's verified domain, DKIM-signed, and the fallback when a record breaks:
the sandbox, the real worker, a real SMTP sink and a real DNS server on loopback."""

from __future__ import annotations

import dkim as dkimpy
import pytest
from rq import Queue
from sqlalchemy import select

from dns_server import dkim_lookup, dns_server_fixture  # noqa: F401  (the fixture)
from portal import jobs
from portal.db import utcnow
from portal.extensions import rq
from portal.models import DomainStatus, SendingDomain, SendingSettings
from portal.services import domains
from recovery_kit import make_kit

SPF = "_spf.portal.example"
PLATFORM = "recovery@portal.example"


@pytest.fixture
def kit(app, sandbox_server, sink, redis_conn, live_server, monkeypatch, dns_server):
    monkeypatch.setattr(rq, "connection", redis_conn)
    monkeypatch.setitem(app.config, "DNS_RESOLVER", dns_server.address)
    monkeypatch.setitem(app.config, "SPF_INCLUDE", SPF)
    return make_kit(app, sandbox_server, sink, redis_conn, live_server, monkeypatch)


def dkim_name(row: SendingDomain) -> str:
    return f"{row.selector}._domainkey.{row.domain}"


@pytest.fixture
def verified(kit, db, dns_server) -> SendingDomain:
    """The kit's merchant with bean.example verified, and a reply-to address."""
    from portal.models import Merchant

    def create() -> SendingDomain:
        db.get(SendingSettings, kit.merchant_id).reply_to = "help@bean.example"
        row = domains.create(db.get(Merchant, kit.merchant_id), "Bean.example", "orders")
        dns_server.set_txt(dkim_name(row), f"v=DKIM1; k=rsa; p={row.public_key}")
        dns_server.set_txt(row.domain, f"v=spf1 include:{SPF} ~all")
        assert domains.verify(row, utcnow()).status == DomainStatus.VERIFIED
        db.commit()
        return row

    return kit.run(create)


def test_mail_from_a_verified_domain_is_signed_and_verifies_after_smtp(kit, verified, dns_server):
    session_id = kit.checkout("sam@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    (received,) = kit.sink.messages
    message = received.message
    assert message["From"].addresses[0].addr_spec == "orders@bean.example"
    assert received.mail_from == PLATFORM  # bounces still come to the platform
    assert message["Reply-To"] == "help@bean.example"
    signature = message["DKIM-Signature"]
    assert f"d={verified.domain}" in signature and f"s={verified.selector}" in signature
    signed = {name.strip().lower() for name in signature.split("h=")[1].split(";")[0].split(":")}
    for name in ("from", "to", "subject", "date", "message-id", "reply-to", "list-unsubscribe"):
        assert name in signed
    assert "list-unsubscribe-post" in signed and "content-type" in signed
    assert dkimpy.verify(received.data, dnsfunc=dkim_lookup(dns_server))
    # The check can fail: a header added after signing breaks the signature.
    tampered = received.data.replace(b"\r\nSubject:", b"\r\nSubject: Win a prize\r\nSubject:", 1)
    assert not dkimpy.verify(tampered, dnsfunc=dkim_lookup(dns_server))


def test_a_broken_record_falls_back_at_once_and_the_owner_is_told_once(
    kit, verified, dns_server, db
):
    dns_server.clear_txt(dkim_name(verified))
    assert kit.run(jobs.check_domain, verified.id) == DomainStatus.FAILING
    assert kit.run(jobs.check_domain, verified.id) == DomainStatus.FAILING  # told once only
    notices = [m for m in kit.sink.messages if "stopped working" in m.message["Subject"]]
    assert [m.message["To"] for m in notices] == ["owner@bean.example"]
    text = notices[0].message.get_body(("plain",)).get_content()
    assert "the record is missing" in text and "https://portal.example/domain" in text

    session_id = kit.checkout("kim@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    (email,) = [m for m in kit.sink.messages if m.message["To"] == "kim@example.com"]
    assert email.message["From"].addresses[0].addr_spec == PLATFORM
    assert email.message["Reply-To"] == "help@bean.example"
    assert email.message["DKIM-Signature"] is None

    kit.run(
        lambda: (setattr(db.get(SendingSettings, kit.merchant_id), "reply_to", ""), db.commit())
    )
    second = kit.checkout("lee@example.com")  # no reply-to set: replies go to the domain's From
    kit.action(second, "expire")
    kit.settle()
    (email,) = [m for m in kit.sink.messages if m.message["To"] == "lee@example.com"]
    assert email.message["From"].addresses[0].addr_spec == PLATFORM
    assert email.message["Reply-To"] == "orders@bean.example"

    dns_server.set_txt(dkim_name(verified), f"v=DKIM1; k=rsa; p={verified.public_key}")
    assert kit.run(jobs.check_domain, verified.id) == DomainStatus.VERIFIED
    db.expire_all()
    row = db.get(SendingDomain, verified.id)
    assert row.failing_since is None and row.owner_notified_at is None  # a new break is told


def test_a_notice_the_mail_server_refused_is_sent_by_the_next_check(kit, verified, dns_server, db):
    dns_server.clear_txt(dkim_name(verified))
    kit.sink.data_reply = "451 4.3.0 Try again later"
    assert kit.run(jobs.check_domain, verified.id) == DomainStatus.FAILING
    db.expire_all()
    assert db.get(SendingDomain, verified.id).owner_notified_at is None  # not told yet

    kit.sink.data_reply = None
    assert kit.run(jobs.check_domain, verified.id) == DomainStatus.FAILING
    assert kit.run(jobs.check_domain, verified.id) == DomainStatus.FAILING
    notices = [m for m in kit.sink.messages if "stopped working" in m.message["Subject"]]
    assert [m.message["To"] for m in notices] == ["owner@bean.example"]  # once, when taken


def test_a_dns_outage_is_no_break(kit, verified, dns_server):
    dns_server.servfail = True
    assert kit.run(jobs.check_domain, verified.id) == DomainStatus.VERIFIED
    assert not [m for m in kit.sink.messages if "stopped working" in m.message["Subject"]]


def test_the_tick_queues_a_check_of_each_domain_unchecked_for_an_hour(kit, db, redis_conn):
    from portal.models import Merchant

    def create() -> SendingDomain:
        row = domains.create(db.get(Merchant, kit.merchant_id), "fresh.example")
        db.commit()
        return row

    row = kit.run(create)
    queue = Queue("default", connection=redis_conn)
    assert kit.run(jobs.enqueue_domain_checks, queue) == 1
    assert kit.run(jobs.enqueue_domain_checks, queue) == 0  # the next tick: its check waits
    assert [job.args for job in queue.get_jobs()] == [(row.id,)]
    kit.run(jobs.check_domain, row.id)  # no records yet: pending, and checked now
    assert kit.run(jobs.enqueue_domain_checks, queue) == 0
    db.expire_all()
    assert db.scalars(select(SendingDomain.status)).one() == DomainStatus.PENDING


def test_a_test_email_is_signed_like_a_real_one(kit, verified, dns_server, db):
    from portal.models import User
    from portal.services import email_design, test_sends

    def send() -> int:
        owner = db.scalars(select(User)).one()
        settings = db.get(SendingSettings, kit.merchant_id)
        test = test_sends.request(
            owner.merchant, owner, 0, email_design.default_design(settings, 0)
        )
        db.commit()
        return test.id

    test_id = kit.run(send)
    assert kit.run(jobs.send_test_email, test_id) == "sent"
    (received,) = kit.sink.messages
    assert received.message["From"].addresses[0].addr_spec == "orders@bean.example"
    assert received.message["Subject"].startswith("[Test] ")
    assert dkimpy.verify(received.data, dnsfunc=dkim_lookup(dns_server))


def test_no_transaction_is_held_while_dns_answers(kit, verified, dns_server, monkeypatch):
    from helpers import transactions_during

    held = transactions_during(monkeypatch, domains, "verify")
    assert kit.run(jobs.check_domain, verified.id) == DomainStatus.VERIFIED and held == [False]
