"""One spelling per mailbox. Every address the portal keeps or compares is written the same way,
so that a mailbox typed two ways (capitals, an accent composed or not, a domain in its xn--
form) is one contact: one status, one unsubscribe, one erasure."""

from __future__ import annotations

import unicodedata

ACE_PREFIX = "xn--"  # an internationalised domain label in its ASCII form


def normal(address: str | None) -> str:
    """The address trimmed and lower-cased, in Unicode NFC, each xn-- label of its domain in
    its own letters; an ASCII address without xn-- costs only the trim and the lower-casing."""
    text = (address or "").strip().lower()
    if not text.isascii():
        text = unicodedata.normalize("NFC", text)
    if ACE_PREFIX in text:
        local, at, domain = text.rpartition("@")
        if at:
            text = f"{local}@{'.'.join(_letters(label) for label in domain.split('.'))}"
    return text


def _letters(label: str) -> str:
    if not label.startswith(ACE_PREFIX):
        return label
    try:
        return label.encode("ascii").decode("idna")
    except UnicodeError:  # not valid punycode: kept as written, and so never merged wrongly
        return label
