"""Checking a domain's records against a loopback DNS server, and the status that moves."""

from __future__ import annotations

from datetime import timedelta

import dns.resolver

import pytest

from dns_server import dns_server_fixture  # noqa: F401  (the fixture)
from factories import make_owner
from portal.db import utcnow
from portal.models import DomainStatus
from portal.services import domains
from portal.services.domains import CheckState
from domains_kit import OTHER_KEY, SPF, publish, verify


def states(result) -> dict[str, str]:
    return {c.kind: c.state for c in result.checks}


def test_right_records_verify_the_domain(ctx, db, row, dns_server):
    publish(dns_server, row)
    now = utcnow()
    result = verify(row, dns_server, now)
    assert states(result) == {"dkim": "ok", "spf": "ok", "dmarc": "ok"}
    assert (result.status, result.broke) == (DomainStatus.VERIFIED, False)
    db.commit()
    db.expire_all()
    assert (row.status, row.verified_at, row.checked_at) == ("verified", now, now)
    assert domains.last_checks(row)["dkim"].state == CheckState.OK


def test_a_missing_dkim_record_leaves_the_domain_pending(ctx, row, dns_server):
    publish(dns_server, row)
    dns_server.clear_txt(f"{row.selector}._domainkey.shop.example")
    result = verify(row, dns_server)
    assert result.status == DomainStatus.PENDING and states(result)["dkim"] == "missing"


def test_another_key_is_wrong_and_shown(ctx, row, dns_server):
    publish(dns_server, row, dkim_value=f"v=DKIM1; k=rsa; p={OTHER_KEY}")
    dkim_check = verify(row, dns_server).checks[0]
    assert dkim_check.state == CheckState.WRONG and row.status == "pending"
    assert f"p={OTHER_KEY[:10]}" in dkim_check.message
    assert dkim_check.found == (f"v=DKIM1; k=rsa; p={OTHER_KEY}",)


def test_split_strings_spaces_and_any_tag_order_are_read_as_one_record(ctx, row, dns_server):
    key = row.public_key
    spaced = f"p={key[:100]} {key[100:200]}\t{key[200:]} ; v=DKIM1"  # no k=, p= first
    publish(dns_server, row, dkim_value=[spaced[:7], spaced[7:260], spaced[260:]])
    dns_server.set_txt(row.domain, ["v=spf1 inc", f"lude:{SPF} -all"])
    assert states(verify(row, dns_server)) == {"dkim": "ok", "spf": "ok", "dmarc": "ok"}


def test_two_spf_records_are_wrong_but_do_not_stop_verification(ctx, row, dns_server):
    publish(dns_server, row)
    dns_server.set_txt(row.domain, f"v=spf1 include:{SPF} ~all", "v=spf1 mx -all")
    result = verify(row, dns_server)
    assert states(result)["spf"] == "wrong" and result.status == DomainStatus.VERIFIED
    assert "only one SPF record" in result.checks[1].message


def test_an_spf_record_without_our_include_is_wrong(ctx, row, dns_server):
    publish(dns_server, row, spf="v=spf1 include:_spf.mail.example -all")
    spf = verify(row, dns_server).checks[1]
    assert spf.state == "wrong" and f"add include:{SPF}" in spf.message


def test_no_dmarc_record_gets_p_none_suggested(ctx, row, dns_server):
    publish(dns_server, row)
    dns_server.clear_txt("_dmarc.shop.example")
    dmarc_check = verify(row, dns_server).checks[2]
    assert dmarc_check.state == "missing" and "v=DMARC1; p=none;" in dmarc_check.message
    dmarc = domains.records(row, SPF)[2]
    assert dmarc.value == "v=DMARC1; p=none;" and dmarc.explanation.startswith("Recommended")


@pytest.mark.parametrize("tag", ["aspf", "adkim"])
def test_strict_dmarc_alignment_is_warned_about_by_its_tag(ctx, row, dns_server, tag):
    publish(dns_server, row, dmarc=f"v=DMARC1; p=reject; {tag}=s")
    dmarc = verify(row, dns_server).checks[2]
    assert dmarc.state == CheckState.WARNING and f"{tag}=s" in dmarc.message
    assert row.status == "verified"


def test_unreachable_dns_is_no_break(ctx, row, dns_server):
    publish(dns_server, row)
    verify(row, dns_server)
    dns_server.servfail = True
    assert set(states(verify(row, dns_server)).values()) == {"unreachable"}
    dns_server.stop()
    result = verify(row, dns_server, lifetime=0.3)
    assert set(states(result).values()) == {"unreachable"}
    assert (result.status, result.broke, row.failing_since) == ("verified", False, None)


def test_a_record_that_breaks_fails_once_then_recovers(ctx, db, row, dns_server):
    publish(dns_server, row)
    verify(row, dns_server)
    dns_server.clear_txt(f"{row.selector}._domainkey.shop.example")
    broke_at = utcnow()
    first, second = verify(row, dns_server, broke_at), verify(row, dns_server)
    assert (first.status, first.broke) == ("failing", True)
    assert (second.status, second.broke) == ("failing", False)
    assert row.failing_since == broke_at and domains.signer_for(row) is None
    db.commit()
    assert domains.claim_owner_notice(row, utcnow()) is True
    assert domains.claim_owner_notice(row, utcnow()) is False
    publish(dns_server, row)
    fixed = verify(row, dns_server)
    assert (fixed.status, fixed.broke) == ("verified", False)
    assert row.failing_since is None and row.owner_notified_at is None


def test_a_wrong_key_after_verification_breaks_too(ctx, row, dns_server):
    publish(dns_server, row)
    verify(row, dns_server)
    publish(dns_server, row, dkim_value=f"v=DKIM1; p={OTHER_KEY}")
    assert verify(row, dns_server).broke is True and row.status == "failing"


def test_without_an_spf_include_spf_is_not_checked(ctx, row, dns_server):
    ctx.config["SPF_INCLUDE"] = ""
    publish(dns_server, row, spf="v=spf1 -all")
    assert states(verify(row, dns_server))["spf"] == "not_needed"


def test_the_resolver_follows_dns_resolver_and_gives_up_soon():
    resolver = domains.resolver_from({"DNS_RESOLVER": "127.0.0.1:5353"})
    assert list(resolver.nameservers) == ["127.0.0.1"]
    assert (resolver.port, resolver.lifetime) == (5353, 5.0)
    assert isinstance(domains.resolver_from({"DNS_RESOLVER": ""}), dns.resolver.Resolver)


def test_domains_unchecked_for_the_period_are_due(ctx, db):
    now = utcnow()
    rows = [domains.create(make_owner().merchant, f"shop{n}.example") for n in range(3)]
    rows[1].checked_at, rows[2].checked_at = now - timedelta(hours=2), now - timedelta(minutes=5)
    db.commit()
    assert domains.due_for_recheck(now, every=timedelta(hours=1)) == [rows[0].id, rows[1].id]
