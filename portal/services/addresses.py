"""One spelling per mailbox. Every address the portal keeps or compares is written the same way,
so that a mailbox typed two ways (capitals, an accent composed or not, a domain in its xn--
form) is one contact: one status, one unsubscribe, one erasure."""

from __future__ import annotations

import re
import unicodedata

import idna

from email_validator import EmailNotValidError, validate_email

ACE_PREFIX = "xn--"  # an internationalised domain label in its ASCII form
EMAIL_MAX = 254
# An erased send keeps this instead of the address (its counts stay right; nobody can read it).
ERASED_PREFIX = "erased:"
# An address: dot-separated atoms, an @, then a domain of two or more dot-separated labels. An
# atom is any run of characters but dots, spaces, control characters, invisible format
# characters (a right-to-left override, a zero-width space: an address that reads as another),
# noncharacters and these specials. A label is letters and digits, of any script, with hyphens
# only between them. Dots outside both classes, each character matches one way only: a hostile
# cell of dots never makes the matching backtrack for ages.
_ATOM = (
    r"[^.\s@\"(),:;<>\[\]\\\x00-\x1f\x7f-\x9f\xad"
    r"\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufdd0-\ufdef\ufff0-\uffff]+"
)
_LABEL = r"[^\W_]+(?:-+[^\W_]+)*"
EMAIL_RE = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@{_LABEL}(?:\.{_LABEL})+")


def normal(address: str | None) -> str:
    """The address trimmed and lower-cased, in Unicode NFC, its domain as DNS reads it (full
    width letters and dots folded: ｅxample．com is example.com) with each xn-- label in its own
    letters; an ASCII address without xn-- costs only the trim and the lower-casing."""
    text = (address or "").strip().lower()
    if not text.isascii():
        text = _dns_domain(unicodedata.normalize("NFC", text))
    if ACE_PREFIX in text:
        local, at, domain = text.rpartition("@")
        if at:
            text = f"{local}@{'.'.join(_letters(label) for label in domain.split('.'))}"
    return text


def _dns_domain(address: str) -> str:
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{idna.uts46_remap(domain, std3_rules=False, transitional=False)}"
    except idna.IDNAError:  # not a domain DNS could read: kept as written, never merged wrongly
        return address


def _letters(label: str) -> str:
    if not label.startswith(ACE_PREFIX):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:  # not valid punycode: kept as written, and so never merged wrongly
        return label


def is_email(value: str) -> bool:
    """A plausible address (in its normal spelling): one @, a dotted domain whose last label
    has two characters or more and is not a number (user@example.c, user@192.0.2.1 are not),
    no empty part between dots, no spaces or quotes, at most EMAIL_MAX characters."""
    if len(value) > EMAIL_MAX or EMAIL_RE.fullmatch(value) is None:
        return False
    top = value.rpartition(".")[2]
    return len(top) >= 2 and not top.isdigit()


LOCAL_MAX = 64  # RFC 5321: the longest part before the @


def sendable_problem(address: str) -> str | None:
    """Why the portal's mail cannot carry `address` as typed (for an account, an invitation or
    a reply-to), in words; None: it can. It must be complete by is_email's rule, have at most
    LOCAL_MAX characters before the @, hold no "=?" (a mail app reads what follows as encoded
    text) and be plain ASCII (no SMTPUTF8). Whether its domain receives mail is
    domain_names.unreachable's to say."""
    if not is_email(normal(address)):
        return "Enter a complete email address, like name@example.com."
    if len(address.rpartition("@")[0]) > LOCAL_MAX:
        return f"Use at most {LOCAL_MAX} characters before the @: mail allows no more."
    if "=?" in address:
        return "Use an address without “=?”: mail apps would read what follows as encoded text."
    if not address.isascii():
        return "Use an address in plain ASCII letters: we cannot email this one."
    return None


def shown(address: str | None) -> str:
    """An address as a page shows it: an erased one (a keyed hash) in words, never its hash."""
    if address and address.startswith(ERASED_PREFIX):
        return "an erased address"
    return address or ""


def for_mail(address: str) -> str:
    """The address as mail carries it without SMTPUTF8: its domain in xn-- form
    (jose@exämple.de → jose@xn--exmple-cua.de). ValueError, in words, when it has none."""
    if address.isascii():
        return address
    try:
        return validate_email(
            address, allow_smtputf8=False, check_deliverability=False
        ).ascii_email
    except EmailNotValidError as exc:
        raise ValueError(f"{address} cannot be written to: {exc}") from None
