"""One recovery email composed and delivered over SMTP (SPEC 5), free of Flask and the database:
`compose` refuses unsafe header values; `Mailer` reuses a connection and reports, never raises."""
from __future__ import annotations

import re
import smtplib
import ssl
import time
from contextlib import suppress
from dataclasses import dataclass
from email.errors import HeaderParseError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, getaddresses
from enum import Enum
from functools import partial
from urllib.parse import parse_qsl, unquote, urlsplit


class HeaderInjection(ValueError):
    """A header value carried CR/LF or another control character; the message names the field."""


@dataclass(frozen=True)
class Outgoing:
    sender_name: str            # merchant-supplied display name
    sender_address: str
    to: str
    subject: str
    text: str
    html: str
    message_id: str             # "<...@domain>", stable per send
    reply_to: str | None = None
    list_unsubscribe_url: str | None = None   # https: List-Unsubscribe + One-Click (RFC 8058)
    headers: tuple[tuple[str, str], ...] = ()


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")  # C0, C1 (CR, LF, NEL...), U+2028/9
_MESSAGE_ID = re.compile(r"<[!-;=?A-~]{1,400}@[!-;=?A-~]{1,400}>")  # printable ASCII but <>@
_UNSUBSCRIBE = re.compile(r"https://[!-;=?-~]{1,900}")               # printable ASCII but <>
_HEADER_NAME = re.compile(r"[!-9;-~]+")
_ENHANCED = re.compile(r"5\.(\d{1,3})\.\d{1,3}\b")  # RFC 3463 status code of a permanent failure
_PORTS = {"smtp": 25, "smtps": 465}
_OPTIONS = {"starttls": ("auto", "required", "off"), "verify": ("true", "false")}
# set_raw headers stay verbatim; folding would RFC 2047-encode a long <https://...> unusably.
_POLICY = SMTP_POLICY.clone(refold_source="none")


def _checked(field: str, value: str, pattern: re.Pattern | None = None) -> str:
    """`value` unchanged, if it has no control character and fits `pattern`: never repaired."""
    found = _CONTROL.search(value)
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


def compose(out: Outgoing) -> EmailMessage:
    """A multipart/alternative message (text, then HTML) from checked header values only: else
    HeaderInjection or ValueError naming the field, so a caller's bug or an attack stays visible."""
    msg = EmailMessage(policy=_POLICY)
    sender = _address("sender_address", out.sender_address)
    msg["From"] = Address(_checked("sender_name", out.sender_name), addr_spec=sender)
    msg["To"] = _address("to", out.to)
    msg["Subject"] = _checked("subject", out.subject)
    msg["Date"] = formatdate(usegmt=True)
    msg.set_raw("Message-ID", _checked("message_id", out.message_id, _MESSAGE_ID))
    if out.reply_to is not None:
        msg["Reply-To"] = _address("reply_to", out.reply_to)
    if out.list_unsubscribe_url is not None:
        url = _checked("list_unsubscribe_url", out.list_unsubscribe_url, _UNSUBSCRIBE)
        msg.set_raw("List-Unsubscribe", f"<{url}>")
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    for name, value in out.headers:
        if _checked("headers", name, _HEADER_NAME) in msg:  # would duplicate or contradict one
            raise ValueError(f"headers: {name!r} is already set")
        msg[name] = _checked(f"headers[{name}]", value)
    # Quoted-printable keeps the body 7-bit: no relay re-encodes it (which would break DKIM).
    msg.set_content(out.text, cte="quoted-printable")
    msg.add_alternative(out.html, subtype="html", cte="quoted-printable")
    return msg


@dataclass(frozen=True)
class SmtpSettings:
    scheme: str                 # "smtp" (STARTTLS when offered, required with credentials) | "smtps"
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: str               # "auto" | "required" | "off"
    timeout: float = 30.0
    verify_tls: bool = True     # False only for self-signed test servers (?verify=false)


def parse_smtp_url(url: str) -> SmtpSettings:
    """Settings from `smtp://user:pass@host:587?starttls=required` or `smtps://host`, credentials
    percent-decoded; a mistake raises ValueError naming SMTP_URL, never echoing the password."""
    parts = urlsplit(url)
    port = 0  # unless it is a number from 1 to 65535, or absent (None)
    with suppress(ValueError):
        port = parts.port
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = [f"{k}={v}" for k, v in options.items() if v not in _OPTIONS.get(k, ())]
    username, password = (unquote(x) if x else None for x in (parts.username, parts.password))
    problems = (
        (parts.scheme not in _PORTS, "the scheme must be smtp:// or smtps://"),
        (not parts.hostname, "no host name"),
        (parts.path not in ("", "/") or parts.fragment, "unexpected path or fragment after the host"),
        (port == 0, "the port must be a number from 1 to 65535"),
        (unknown, f"unknown {', '.join(unknown)} (starttls=auto|required|off, verify=true|false)"),
        (password and not username, "a password without a user name"),
        (not f"{username}{password}".isascii(), "smtplib can send only an ASCII user and password"),
        (parts.scheme == "smtps" and "starttls" in options, "starttls applies to smtp:// only"),
        (username and options.get("starttls") == "off", "credentials need TLS: drop starttls=off"),
    )
    for failed, problem in problems:
        if failed:  # say what is wrong, never the URL itself: it may hold the password
            raise ValueError(f"SMTP_URL: {problem}")
    return SmtpSettings(parts.scheme, parts.hostname, port or _PORTS[parts.scheme],
                        username, password, options.get("starttls", "auto"),
                        verify_tls=options.get("verify", "true") == "true")


class DeliveryStatus(str, Enum):
    SENT = "sent"          # accepted: 2xx after DATA
    DEFERRED = "deferred"  # not accepted, safe to retry: 4xx, or lost before the data was sent
    BOUNCED = "bounced"    # permanent refusal of the recipient: suppress the address
    FAILED = "failed"      # permanent refusal not about the recipient (sender, content, auth)
    UNKNOWN = "unknown"    # lost after the data, before the reply: may be delivered; never retry


@dataclass(frozen=True)
class DeliveryResult:
    status: DeliveryStatus
    code: int | None
    detail: str            # one line, for the operator


def _result(status: DeliveryStatus, code: int | None, detail: str) -> DeliveryResult:
    return DeliveryResult(status, code, " ".join(detail.split())[:300])


def _refusal(stage: str, code: int, reply: bytes | str) -> DeliveryResult:
    """DEFERRED for 4xx; BOUNCED only for a 5xx about the recipient's address or mailbox."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    # RFC 3463: 5.1.x/5.2.x are the address/mailbox; "5.7.1 relaying denied" is not the shopper's.
    enhanced = _ENHANCED.match(text)
    about_recipient = (enhanced.group(1) in ("1", "2") if enhanced
                       else stage == "RCPT TO" or code in (550, 551, 553))
    bounced = 500 <= code < 600 and stage in ("RCPT TO", "end of DATA") and about_recipient
    status = (DeliveryStatus.DEFERRED if 400 <= code < 500 else
              DeliveryStatus.BOUNCED if bounced else DeliveryStatus.FAILED)
    return _result(status, code, f"{stage} refused: {code} {text}")


def _setup_failure(exc: OSError) -> DeliveryResult:
    """How a failure to connect, secure or log in ends: by reply code, else by kind."""
    if isinstance(exc, smtplib.SMTPResponseException):  # greeting, EHLO, STARTTLS or AUTH
        return _refusal("SMTP setup", exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPServerDisconnected) or not isinstance(
            exc, (smtplib.SMTPException, ssl.SSLCertVerificationError)):
        return _result(DeliveryStatus.DEFERRED, None, f"cannot reach the SMTP server: {exc!r}")
    # A bad certificate or a missing STARTTLS or AUTH will not mend itself on a retry.
    return _result(DeliveryStatus.FAILED, None, f"SMTP setup failed: {exc}")


class _Abort(Exception):
    """The connection is unusable; args: (DeliveryResult, whether none of the message was sent)."""


def _envelope(message: EmailMessage) -> tuple[str, str, bytes]:
    """Sender, recipient and the payload for DATA: CRLF lines, dot-stuffed, ending with "."."""
    addresses = [getaddresses([str(v) for v in message.get_all(h, [])]) for h in ("From", "To")]
    if any(len(f) != 1 or not re.fullmatch(r"[!-~]+@[!-~]+", f[0][1]) for f in addresses):
        raise ValueError("a message to send needs exactly one From and one To address, in ASCII")
    data = message.as_bytes(policy=_POLICY)  # CRLF throughout, whatever policy it was built with
    data += b"" if data.endswith(b"\r\n") else b"\r\n"
    return addresses[0][0][1], addresses[1][0][1], re.sub(rb"(?m)^\.", b"..", data) + b".\r\n"


class Mailer:
    """One per worker process: keeps one SMTP connection open and reuses it across messages."""

    idle_check_after = 30.0  # seconds idle after which the kept connection is checked with NOOP

    def __init__(self, settings: SmtpSettings, local_hostname: str | None = None):
        self.settings, self.local_hostname = settings, local_hostname
        self.connections_opened, self._last_used = 0, 0.0
        self._smtp: smtplib.SMTP | None = None
        self._tls = ssl.create_default_context()
        if not settings.verify_tls:  # only for self-signed test servers
            self._tls.check_hostname, self._tls.verify_mode = False, ssl.CERT_NONE

    def send(self, message: EmailMessage) -> DeliveryResult:
        """The fate of `message`, never raising for SMTP or network trouble (not thread-safe): a
        kept connection found closed before any of this message went out is replaced once."""
        envelope = _envelope(message)
        while True:
            reused = self._usable()
            try:
                result = self._transaction(self._smtp if reused else self._open(), *envelope)
            except _Abort as abort:
                self._drop()
                result, before_data = abort.args
                if reused and before_data:
                    continue  # safe: the kept connection had died before any data; now a fresh one
                return result
            self._last_used = time.monotonic()
            return result

    def close(self) -> None:
        """Say QUIT and let the connection go; a later send opens a new one."""
        with suppress(OSError):
            if self._smtp is not None:
                self._smtp.quit()
        self._drop()

    def _usable(self) -> bool:
        """True when a connection is kept and, if it idled, still answers NOOP."""
        if self._smtp is not None and time.monotonic() - self._last_used > self.idle_check_after:
            with suppress(OSError):
                if self._smtp.noop()[0] == 250:
                    return True
            self._drop()
        return self._smtp is not None

    def _open(self) -> smtplib.SMTP:
        """A connected, secured and logged-in session, or _Abort with the reason."""
        s = self.settings
        try:
            connect = partial(smtplib.SMTP_SSL, context=self._tls) if s.scheme == "smtps" else smtplib.SMTP
            self._smtp = connect(s.host, s.port, self.local_hostname, timeout=s.timeout)
            self.connections_opened += 1
            self._smtp.ehlo_or_helo_if_needed()
            if s.scheme == "smtp" and s.starttls != "off" and self._smtp.has_extn("starttls"):
                self._smtp.starttls(context=self._tls)
                self._smtp.ehlo()
            elif s.scheme == "smtp" and (s.starttls == "required" or s.username):
                raise smtplib.SMTPNotSupportedError("no STARTTLS offered; SMTP_URL requires it")
            if s.username:
                self._smtp.login(s.username, s.password or "")
        except OSError as exc:  # smtplib's and ssl's errors are OSErrors too
            raise _Abort(_setup_failure(exc), True) from None
        return self._smtp

    def _transaction(self, smtp: smtplib.SMTP, sender: str, recipient: str,
                     payload: bytes) -> DeliveryResult:
        """MAIL, RCPT, DATA in steps, so a lost connection is placed before or after the data."""
        steps = (("MAIL FROM", lambda: smtp.mail(sender), (250,)),
                 ("RCPT TO", lambda: smtp.rcpt(recipient), (250, 251)),
                 ("DATA", lambda: smtp.docmd("DATA"), (354,)))
        where = (DeliveryStatus.DEFERRED, "before the message data", True)
        try:
            for stage, command, accepted in steps:
                code, reply = command()
                if code not in accepted:
                    return self._refused(smtp, stage, code, reply)
            # Until the final "." has left, the server cannot have accepted the message.
            where = (DeliveryStatus.DEFERRED, "while sending the data", False)
            smtp.send(payload)
            where = (DeliveryStatus.UNKNOWN, "after the data: maybe delivered, never resend", False)
            code, reply = smtp.getreply()
        except OSError as exc:
            status, moment, before_data = where
            raise _Abort(_result(status, None, f"connection lost {moment}: {exc!r}"), before_data)
        if 200 <= code < 300:
            return _result(DeliveryStatus.SENT, code, f"accepted: {code} {reply.decode('latin-1')}")
        return self._refused(smtp, "end of DATA", code, reply)

    def _refused(self, smtp: smtplib.SMTP, stage: str, code: int, reply: bytes) -> DeliveryResult:
        """The refusal classified; RSET so the kept connection can take the next message."""
        result = _refusal(stage, code, reply)
        if code == 421:  # the server is closing the channel: its next move is to hang up
            raise _Abort(result, stage != "end of DATA")
        try:
            if smtp.rset()[0] != 250:
                self._drop()
        except OSError:
            self._drop()
        return result

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
        self._smtp = None
