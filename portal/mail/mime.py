"""One recovery email as the bytes that go on the wire, free of Flask and the database.

`compose` checks every header value and refuses, never repairs, an unsafe one; it writes the
multipart/alternative message directly: 7-bit, CRLF, quoted-printable (or base64) bodies, RFC
2047 words for non-ASCII header text. (The standard library's EmailMessage parses each header it is given and
re-folds it on output; that cost more than everything else in composing an email.)
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.header import Header
from email.headerregistry import Address
from email.utils import formatdate


class HeaderInjection(ValueError):
    """A header value carried CR/LF or another control character; the message names the field."""


@dataclass(frozen=True)
class Outgoing:
    sender_name: str  # merchant-supplied display name
    sender_address: str
    to: str
    subject: str
    text: str
    html: str
    message_id: str  # "<...@domain>", stable per send
    reply_to: str | None = None
    list_unsubscribe_url: str | None = None  # https: List-Unsubscribe + One-Click (RFC 8058)
    headers: tuple[tuple[str, str], ...] = ()
    # The SMTP envelope's sender (where bounces go), when it is not the From address: mail From a
    # merchant's own domain still bounces to the platform.
    envelope_sender: str | None = None


@dataclass(frozen=True)
class Composed:
    """A message ready for SMTP: envelope addresses, the subject (for listings) and the data."""

    sender: str
    recipient: str
    subject: str
    data: bytes  # RFC 5322, CRLF line ends, ASCII only, not yet dot-stuffed

    def as_bytes(self) -> bytes:
        return self.data

    def as_string(self) -> str:
        return self.data.decode("ascii")


CRLF = "\r\n"
# C0 and C1 controls (NUL, CR, LF, NEL...), DEL, U+2028/9: never in a header (nor in a name).
CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# Marks that turn the direction of the text around: in a sender's name or an email's footer,
# they make it read as something else.
BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Characters that show nothing: a zero-width space or word joiner, a byte order mark, tag
# characters, interlinear annotation marks. In a name or a subject they hide text, or make a
# field that looks empty, or two that look alike, differ.
HIDDEN = re.compile("[\u180e\u200b\u2060-\u2064\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]")
_MESSAGE_ID = re.compile(r"<[!-;=?A-~]{1,400}@[!-;=?A-~]{1,400}>")  # printable ASCII but <>@
_UNSUBSCRIBE = re.compile(r"https://[!-;=?-~]{1,900}")  # printable ASCII but <>
_HEADER_NAME = re.compile(r"[!-9;-~]+")
_SET_BY_COMPOSE = {
    "from",
    "to",
    "subject",
    "date",
    "message-id",
    "reply-to",
    "list-unsubscribe",
    "list-unsubscribe-post",
    "mime-version",
    "content-type",
    "content-transfer-encoding",
}


def _checked(field: str, value: str, pattern: re.Pattern | None = None) -> str:
    """`value` unchanged, if it has no control character and fits `pattern`: never repaired."""
    found = CONTROL.search(value)
    if found:
        raise HeaderInjection(f"{field}: contains control character U+{ord(found.group()):04X}")
    if pattern and not pattern.fullmatch(value):
        raise ValueError(f"{field}: {value!r} does not have the required form")
    return value


def _address(field: str, value: str) -> str:
    """The addr_spec of `value`, which must be exactly one plain ASCII address (a@b.example)."""
    if not _checked(field, value).isascii():  # would need SMTPUTF8 at every hop
        raise ValueError(f"{field}: {value!r} is not an ASCII address (not supported)")
    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError, HeaderParseError) as exc:  # IndexError: "a@" in Python 3.11
        raise ValueError(f"{field}: {value!r} is not a single email address ({exc})") from None
    return address.addr_spec


def _plain(value: str) -> bool:
    """Can go out as it is: ASCII, and nothing a mail reader would decode as an encoded-word
    ("=?utf-8?q?=0D=0ABcc:...?=" would become a line break on screen)."""
    return value.isascii() and "=?" not in value


def _text(name: str, value: str) -> str:
    """An unstructured header, folded; RFC 2047 encoded-words unless it is plain (_plain)."""
    header = Header(value, "us-ascii" if _plain(value) else "utf-8", header_name=name)
    return f"{name}: {header.encode(linesep=CRLF)}"


def _from(name: str, address: str) -> str:
    """From with a display name: quoted when plain (RFC 5322 quoted-string), else encoded."""
    if _plain(name):
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'From: "{quoted}" <{address}>'
    return f"{_text('From', name)} <{address}>"


def _headers(out: Outgoing, sender: str, recipient: str) -> list[str]:
    lines = [
        _from(_checked("sender_name", out.sender_name), sender),
        f"To: {recipient}",
        _text("Subject", _checked("subject", out.subject)),
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {_checked('message_id', out.message_id, _MESSAGE_ID)}",
    ]
    if out.reply_to is not None:
        lines.append(f"Reply-To: {_address('reply_to', out.reply_to)}")
    if out.list_unsubscribe_url is not None:  # verbatim: folding would break the <https://...>
        url = _checked("list_unsubscribe_url", out.list_unsubscribe_url, _UNSUBSCRIBE)
        lines += [
            f"List-Unsubscribe: <{url}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        ]
    seen = set()
    for name, value in out.headers:
        key = _checked("headers", name, _HEADER_NAME).lower()
        if key in _SET_BY_COMPOSE or key in seen:  # would duplicate or contradict one
            raise ValueError(f"headers: {name!r} is already set")
        seen.add(key)
        lines.append(_text(name, _checked(f"headers[{name}]", value)))
    return lines


def _part(subtype: str, body: str) -> str:
    # A 7-bit encoding, so no relay re-encodes the body (which would break DKIM): quoted-
    # printable for mostly-Latin text, base64 when shorter (a CJK character costs 9 bytes in
    # quoted-printable, 4 in base64), which keeps long emails under Gmail's clipping size.
    raw = body.replace(CRLF, "\n").replace("\r", "\n").encode("utf-8")
    encoded, name = binascii.b2a_qp(raw, istext=True).decode("ascii"), "quoted-printable"
    if len(encoded) > len(raw) * 4 // 3 + len(raw) // 57 + 4:  # longer than base64 would be
        encoded, name = base64.encodebytes(raw).decode("ascii"), "base64"
    return (
        f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
        f"Content-Transfer-Encoding: {name}{CRLF}{CRLF}{encoded.replace(chr(10), CRLF)}"
    )


def compose(out: Outgoing) -> Composed:
    """A multipart/alternative message (text, then HTML) from checked header values only: else
    HeaderInjection or ValueError naming the field, so a caller's bug or an attack stays visible."""
    # "=_" never occurs in quoted-printable ("=" is written "=3D") or base64 output, so the
    # boundary cannot.
    sender, recipient = _address("sender_address", out.sender_address), _address("to", out.to)
    boundary = f"=_{uuid.uuid4().hex}"
    head = "\r\n".join(
        _headers(out, sender, recipient)
        + ["MIME-Version: 1.0", f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"']
    )
    # The CRLF before each "--boundary" belongs to the delimiter, not to the part (RFC 2046).
    parts = "".join(
        f"--{boundary}\r\n{_part(kind, text)}\r\n"
        for kind, text in (("plain", out.text), ("html", out.html))
    )
    data = f"{head}\r\n\r\n{parts}--{boundary}--\r\n".encode("ascii")
    envelope = _address("envelope_sender", out.envelope_sender) if out.envelope_sender else sender
    return Composed(envelope, recipient, out.subject, data)
