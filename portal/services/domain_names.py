"""A domain as a merchant types it: read into its A-label form, or refused in words (a web
address pasted whole gives its host; an IP address, localhost, a mailbox provider's domain or
the platform's own is no domain to send from)."""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from email.utils import parseaddr
from urllib.parse import urlsplit

import idna
from flask import current_app

from portal.config import RELAXED_ENVS


class DomainError(ValueError):
    """The domain or From local part cannot be used; the message says why, in words."""


# Endings no public DNS answers for: a home network's, and RFC 6761's special uses.
PRIVATE_ENDINGS = frozenset(
    {"local", "localdomain", "lan", "home", "internal", "invalid", "onion", "arpa", "localhost"}
)
# RFC 2606's names for examples and tests: no mail reaches them, but in development and tests
# the Outbox catches it, and the demo, the README and the tests use them.
EXAMPLE_ENDINGS = frozenset({"test", "example"})
EXAMPLES = frozenset({"example.com", "example.net", "example.org"})
# Free mailboxes' domains: their owners alone publish DNS records, so no DKIM key of ours.
MAILBOX_PROVIDERS = frozenset(
    {
        "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
        "yahoo.com", "ymail.com", "aol.com", "icloud.com", "me.com", "mac.com", "proton.me",
        "protonmail.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.com", "yandex.ru",
        "mail.ru", "zoho.com", "fastmail.com",
    }
)  # fmt: skip
# The DKIM record's name puts a selector (domains._new_selector's: cr, year, month and four hex
# digits) before the domain: DNS allows 253 characters for the whole name.
LONGEST = 253 - len("cr202612abcd._domainkey.")
WWW = re.compile(r"(?i)^www\.(?=.+\.)")  # www.shop.example, never www.example alone
# Alphabets with letters that look the same (Latin a, Cyrillic а, Greek α, Armenian օ): one
# part of a name mixing them reads as another name (pаypal with a Cyrillic а).
LOOK_ALIKE = frozenset({"LATIN", "CYRILLIC", "GREEK", "ARMENIAN", "CHEROKEE"})
# Cyrillic letters drawn as Latin ones: a name of these alone under a Latin ending (аррӏе.com)
# reads as a Latin name, as browsers know (they show such a name in its xn-- form).
LATIN_LOOKING = frozenset("асԁеһіјӏорԛѕԝху")


def normalize(text: str, platform_domain: str | None = None) -> str:
    """The A-label form (lower case, no trailing dot) of a domain a person typed, else
    DomainError saying what to change. `platform_domain` (default: MAIL_FROM's) is refused."""
    text = _from_address(text or "")
    if not text:
        raise DomainError("Enter a domain, for example shop.example.")
    if "@" in text:
        raise DomainError("Enter only the part after the @, for example shop.example.")
    if "/" in text:
        raise DomainError("Enter the domain alone, without https:// or a path.")
    if _is_ip(text):
        raise DomainError("Enter a domain name, not an IP address.")
    if len(text) > 253:  # before IDNA, which refuses long input with its own reason
        raise DomainError("This domain is longer than the 253 characters DNS allows.")
    try:
        mapped = idna.uts46_remap(text, std3_rules=True, transitional=False)
    except idna.IDNAError:
        raise DomainError("A domain holds only letters, digits, hyphens and dots.") from None
    domain = ".".join(_alabel(label) for label in mapped.removesuffix(".").split("."))
    if len(domain) > 253:
        raise DomainError("This domain is longer than the 253 characters DNS allows.")
    if len(domain) > LONGEST:
        raise DomainError(
            f"This domain is too long to send from: the name of its DKIM record, which adds "
            f"{253 - LONGEST} characters, would pass the 253 DNS allows. Use at most {LONGEST}."
        )
    if mixed := look_alike(domain):
        raise DomainError(mixed)
    if platform_domain is None:
        platform_domain = parseaddr(current_app.config["MAIL_FROM"])[1].rpartition("@")[2]
    _refuse_reserved(domain, platform_domain.lower())
    return domain


def _from_address(text: str) -> str:
    """`text` trimmed, without a leading "www."; a web address pasted whole
    ("https://www.shop.example/cart", or "shop.example/cart") gives its host: the domain the
    shop's address is under, which is the one to send from."""
    text = text.strip()
    if not re.match(r"(?i)https?://", text):
        if "/" not in text or "@" in text or "://" in text:
            return WWW.sub("", text)
        text = "//" + text  # a host and a path: read it as an address whose scheme is left out
    try:
        host = urlsplit(text).hostname or ""
    except ValueError:  # e.g. an unclosed IPv6 bracket: the checks below say what is wrong
        return text
    return WWW.sub("", host)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return text.rsplit(".", 1)[-1].isdigit()  # 10.1 or 1.2.3: no domain ends in a number
    return True


def _alabel(label: str) -> str:
    if not label:
        raise DomainError("A domain cannot have an empty part (two dots in a row).")
    if not label.isprintable():  # a zero-width joiner left in: shown, it reads as "shop"
        seen = "".join(ch for ch in label if ch.isprintable())
        raise DomainError(
            f"“{seen}” holds an invisible character (such as a zero-width joiner): type the "
            "domain again, without it."
        )
    if label.startswith("-") or label.endswith("-"):
        raise DomainError(f"“{label}”: a part of a domain cannot start or end with a hyphen.")
    ace = label if label.isascii() else "xn--" + label.encode("punycode").decode()
    if len(ace) > 63:
        raise DomainError(f"“{label}” is longer than the 63 characters a part may have.")
    try:
        return idna.alabel(label).decode("ascii").lower()
    except idna.IDNAError:
        raise DomainError(f"“{label}” is not a valid part of a domain name.") from None


def unreachable(domain: str) -> str | None:
    """Why mail can never reach `domain` (lower case; A-labels or U-labels), in words naming
    it; None when it can. The one rule for every domain and address a person types (sending
    domain, reply-to, sign-up, invitations): a private network's names always; outside
    development and tests also RFC 2606's names for examples and tests."""
    try:  # as DNS would read it: full-width letters and dots folded, ＬＡＮ is lan
        domain = idna.uts46_remap(domain, std3_rules=False, transitional=False)
    except idna.IDNAError:
        pass
    domain = domain.rstrip(".").lower()
    ending = domain.rpartition(".")[2]
    shown = "".join(ch for ch in display(domain) if ch.isprintable())  # no mark turns the words
    if ending in PRIVATE_ENDINGS:
        return f"{shown} cannot be reached from the internet"
    if ending in EXAMPLE_ENDINGS or _under(domain, EXAMPLES):
        if current_app.config["PORTAL_ENV"] not in RELAXED_ENVS:
            return f"{shown} is a reserved name that never receives email"
    return None


def look_alike(domain: str) -> str | None:
    """Words naming a part of `domain` (A- or U-labels) that mixes Latin, Cyrillic or Greek
    letters, which look alike; None when none does."""
    labels = display(domain).split(".")
    for label in labels:
        scripts = {unicodedata.name(ch, "").partition(" ")[0] for ch in label if ch.isalpha()}
        if len(mixed := sorted(scripts & LOOK_ALIKE)) > 1:
            return (
                f"“{label}” mixes {' and '.join(name.title() for name in mixed)} letters, which "
                "look alike: a shopper could take it for another name. Type it in one alphabet."
            )
        if (
            labels[-1].isascii()
            and not label.isascii()
            and set(label) <= LATIN_LOOKING | set("-0123456789")
        ):
            return (
                f"“{label}” is written in Cyrillic letters that look like Latin ones: a shopper "
                "could take it for another name. Type it in Latin letters."
            )
    return None


def _refuse_reserved(domain: str, platform: str) -> None:
    if reason := unreachable(domain):
        raise DomainError(f"{reason}: enter your business's domain.")
    if "." not in domain:
        raise DomainError("Enter the full domain, with its ending, for example shop.example.")
    ending = display(domain).rpartition(".")[2]
    if len(ending) == 1:  # no top-level domain has one letter, in any alphabet
        raise DomainError(f"No domain ends in “.{ending}”: check the ending, as in shop.com.")
    if _under(domain, MAILBOX_PROVIDERS):
        raise DomainError(
            "That is a mailbox provider's domain: only the provider can publish its DNS "
            "records. Enter your business's own domain."
        )
    if platform and (domain == platform or domain.endswith("." + platform)):
        raise DomainError("That is this platform's own domain: enter your business's domain.")


def _under(domain: str, names: frozenset[str]) -> bool:
    """Whether `domain` is one of `names` or a subdomain of one."""
    parts = domain.split(".")
    return any(".".join(parts[i:]) in names for i in range(len(parts) - 1))


def display(domain: str) -> str:
    """The domain as people read it (U-labels: bücher.example), for pages."""
    try:
        return idna.decode(domain)
    except idna.IDNAError:
        return domain


def display_address(address: str) -> str:
    """An address as people read it: its domain in U-labels (help@bücher.example)."""
    local, at, domain = address.rpartition("@")
    return f"{local}{at}{display(domain)}" if at else address
