"""What DNS holds for a sending domain's records, asked with dnspython: each record's state
(right, missing, wrong with what was found, or unreachable: an outage is never taken for a
missing record) and a message in words. Reads DNS only; stores nothing."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum

import dns.exception
import dns.resolver

from portal.config import resolver_address
from portal.models import SendingDomain

SUGGESTED_DMARC = "v=DMARC1; p=none;"
UNREACHABLE = "DNS did not answer in time: nothing is concluded; the next check tries again."
MISSING = {
    "dkim": "Not published yet.",
    "spf": "No SPF record.",
    "dmarc": f"We suggest publishing {SUGGESTED_DMARC} (it only asks receivers for reports).",
}
STRICT = {  # why strict DMARC alignment deserves a word when the envelope is the platform's
    "aspf": "aspf=s asks for strict SPF alignment, which these emails never have: their "
    "envelope sender is our bounce address, not your domain, so they pass DMARC through "
    "DKIM alone. We suggest removing aspf=s.",
    "adkim": "adkim=s asks for strict DKIM alignment: our signatures (d= your domain) pass "
    "it, but mail signed for another of your domains would not. We suggest removing it.",
}


class CheckState(StrEnum):
    OK = "ok"  # found and right
    MISSING = "missing"
    WRONG = "wrong"  # found, not right: Check.found holds what is there
    WARNING = "warning"  # works, with a caveat the message explains
    UNREACHABLE = "unreachable"  # DNS did not answer (timeout, SERVFAIL): nothing concluded
    NOT_NEEDED = "not_needed"


@dataclass(frozen=True)
class Check:
    kind: str
    state: CheckState
    message: str
    found: tuple[str, ...] = ()  # the relevant TXT values at the record's name


def resolver_from(config) -> dns.resolver.Resolver:
    """A resolver for DNS_RESOLVER (host:port), else the system's, giving up within 5 s (2 s a
    try), so that a page waiting on a check never hangs."""
    address = resolver_address(config.get("DNS_RESOLVER", ""))
    try:
        resolver = dns.resolver.Resolver(configure=address is None)
    except dns.resolver.NoResolverConfiguration:  # no resolv.conf: checks say "unreachable"
        resolver = dns.resolver.Resolver(configure=False)
    if address is not None:
        resolver.nameservers, resolver.port = [address[0]], address[1]
    resolver.timeout, resolver.lifetime = 2.0, 5.0
    return resolver


def _txt(resolver: dns.resolver.Resolver, name: str) -> list[str] | None:
    """The TXT values at `name`, each with its character-strings joined; None when DNS did not
    answer (timeout, SERVFAIL, refused), which is not the same as no record ([])."""
    try:
        answer = resolver.resolve(name + ".", "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return []
    except dns.exception.DNSException:
        return None
    return [b"".join(rdata.strings).decode("utf-8", "replace") for rdata in answer]


def check(row: SendingDomain, resolver: dns.resolver.Resolver, spf_include: str) -> list[Check]:
    """What DNS holds now for each record of `row`: DKIM, SPF, DMARC (asked in parallel)."""
    names = [f"{row.selector}._domainkey.{row.domain}", row.domain, f"_dmarc.{row.domain}"]
    with ThreadPoolExecutor(max_workers=3) as pool:
        dkim_txt, spf_txt, dmarc_txt = pool.map(lambda name: _txt(resolver, name), names)
    return [_check_dkim(dkim_txt, row), _check_spf(spf_txt, spf_include), _check_dmarc(dmarc_txt)]


def _tags(text: str) -> dict[str, str]:
    """A DKIM or DMARC tag list as a dict, values without spaces (a folded p= joined)."""
    pairs = (part.split("=", 1) for part in text.split(";") if "=" in part)
    return {name.strip().lower(): "".join(value.split()) for name, value in pairs}


def _absent(kind: str, texts: list[str] | None) -> Check:
    if texts is None:
        return Check(kind, CheckState.UNREACHABLE, UNREACHABLE)
    return Check(kind, CheckState.MISSING, MISSING[kind])


def _check_dkim(texts: list[str] | None, row: SendingDomain) -> Check:
    if not texts:
        return _absent("dkim", texts)
    tag_lists = map(_tags, texts)
    keys = [tags.get("p", "") for tags in tag_lists if tags.get("k", "rsa").lower() == "rsa"]
    if row.public_key in keys:
        return Check("dkim", CheckState.OK, "Found, with the right key.", tuple(texts))
    shown = ", ".join(f"p={key[:10]}…{key[-6:]}" if key else "an empty p=" for key in keys)
    message = f"Found, but with another key ({shown or 'no RSA key'}): publish the value above."
    return Check("dkim", CheckState.WRONG, message, tuple(texts))


def _only(kind: str, texts: list[str] | None, marker: str) -> str | Check:
    """The one record of `kind` (its value starts with `marker`), else the Check saying why."""
    found = [text for text in texts or [] if "".join(text.split()).lower().startswith(marker)]
    if len(found) > 1:
        message = f"Publish only one {kind.upper()} record: with two, receivers ignore both."
        return Check(kind, CheckState.WRONG, message, tuple(found))
    return found[0] if found else _absent(kind, texts)


def _check_spf(texts: list[str] | None, include: str) -> Check:
    if not include:
        return Check("spf", CheckState.NOT_NEEDED, "Not needed with this platform’s mail relay.")
    spf = _only("spf", texts, "v=spf1")
    if isinstance(spf, Check):
        return spf
    if f"include:{include.lower()}" in {word.lstrip("+") for word in spf.lower().split()}:
        return Check("spf", CheckState.OK, "Found, with our include.", (spf,))
    message = f"Your SPF record does not name our servers: add include:{include} to it."
    return Check("spf", CheckState.WRONG, message, (spf,))


def _check_dmarc(texts: list[str] | None) -> Check:
    dmarc = _only("dmarc", texts, "v=dmarc1")
    if isinstance(dmarc, Check):
        return dmarc
    strict = [STRICT[tag] for tag, value in _tags(dmarc).items() if tag in STRICT and value == "s"]
    state = CheckState.WARNING if strict else CheckState.OK
    return Check("dmarc", state, " ".join(strict) or "Found.", (dmarc,))
