"""Delivery over SMTP, free of Flask and the database: `Mailer` reuses a connection
and reports what became of each message, never raises. Messages come from `mime.compose`."""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
import time
from contextlib import suppress
from dataclasses import dataclass
from enum import Enum
from functools import partial
from urllib.parse import parse_qsl, unquote, urlsplit

from portal.mail.mime import Composed

_ENHANCED = re.compile(r"5\.(\d{1,3})\.\d{1,3}\b")  # RFC 3463 status code of a permanent failure
_OUR_SETUP = re.compile(r"relay|authenticat", re.IGNORECASE)  # a refusal about us, not them
_PORTS = {"smtp": 25, "smtps": 465}
_OPTIONS = {"starttls": ("auto", "required", "off"), "verify": ("true", "false")}
_ENVELOPE_ADDRESS = re.compile(r"[!-~]+@[!-~]+")


@dataclass(frozen=True)
class SmtpSettings:
    scheme: str  # "smtp" (STARTTLS when offered, required with credentials) | "smtps"
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: str  # "auto" | "required" | "off"
    timeout: float = 30.0
    verify_tls: bool = True  # False only for self-signed test servers (?verify=false)


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
        (
            parts.path not in ("", "/") or parts.fragment,
            "unexpected path or fragment after the host",
        ),
        (port == 0, "the port must be a number from 1 to 65535"),
        (unknown, f"unknown {', '.join(unknown)} (starttls=auto|required|off, verify=true|false)"),
        (password and not username, "a password without a user name"),
        (
            not f"{username}{password}".isascii(),
            "smtplib can send only an ASCII user and password",
        ),
        (parts.scheme == "smtps" and "starttls" in options, "starttls applies to smtp:// only"),
        (username and options.get("starttls") == "off", "credentials need TLS: drop starttls=off"),
    )
    for failed, problem in problems:
        if failed:  # say what is wrong, never the URL itself: it may hold the password
            raise ValueError(f"SMTP_URL: {problem}")
    return SmtpSettings(
        parts.scheme,
        parts.hostname,
        port or _PORTS[parts.scheme],
        username,
        password,
        options.get("starttls", "auto"),
        verify_tls=options.get("verify", "true") == "true",
    )


class DeliveryStatus(str, Enum):
    SENT = "sent"  # accepted: 2xx after DATA
    DEFERRED = "deferred"  # not accepted, safe to retry: 4xx, or lost before the data was sent
    BOUNCED = "bounced"  # permanent refusal of the recipient: suppress the address
    FAILED = "failed"  # permanent refusal not about the recipient (sender, content, auth)
    UNKNOWN = "unknown"  # lost after the data, before the reply: may be delivered; never retry


@dataclass(frozen=True)
class DeliveryResult:
    status: DeliveryStatus
    code: int | None
    detail: str  # one line, for the operator


def _result(status: DeliveryStatus, code: int | None, detail: str) -> DeliveryResult:
    return DeliveryResult(status, code, " ".join(detail.split())[:300])


def _refusal(stage: str, code: int, reply: bytes | str) -> DeliveryResult:
    """DEFERRED for 4xx; BOUNCED only for a 5xx about the recipient's address or mailbox."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    bounced = 500 <= code < 600 and _about_recipient(stage, code, text)
    status = (
        DeliveryStatus.DEFERRED
        if 400 <= code < 500
        else DeliveryStatus.BOUNCED
        if bounced
        else DeliveryStatus.FAILED
    )
    return _result(status, code, f"{stage} refused: {code} {text}")


def _about_recipient(stage: str, code: int, text: str) -> bool:
    """Whether a 5xx refuses the shopper's address, not our set-up or the message. At RCPT TO
    every refusal is the recipient's (Microsoft's "550 5.4.1 access denied", a "5.7.1" policy
    on that mailbox) but one saying our relay is wrong: relaying or authentication denied, a
    command out of order, a mail system problem (RFC 3463 5.3.x, 5.5.x). After DATA only
    5.1.x/5.2.x (address, mailbox) are the recipient's: "5.7.1 spam" is about the message."""
    enhanced = _ENHANCED.match(text)
    subject = enhanced.group(1) if enhanced else None
    if stage == "RCPT TO":
        ours = code in (503, 530) or subject in ("3", "5") or _OUR_SETUP.search(text)
        return not ours
    if stage == "end of DATA":
        return subject in ("1", "2") if subject else code in (550, 551, 553)
    return False


def _said(exc: OSError) -> str:
    """A network error in words a merchant can read ("connection refused", "timed out"), not
    as Python writes it."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, socket.gaierror):
        return "the server's name was not found in DNS"
    return (exc.strerror or str(exc) or type(exc).__name__).rstrip(".").lower()


def _setup_failure(exc: OSError) -> DeliveryResult:
    """How a failure to connect, secure or log in ends: by reply code, else by kind."""
    if isinstance(exc, smtplib.SMTPResponseException):  # greeting, EHLO, STARTTLS or AUTH
        return _refusal("SMTP setup", exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPServerDisconnected) or not isinstance(
        exc, (smtplib.SMTPException, ssl.SSLCertVerificationError)
    ):
        return _result(
            DeliveryStatus.DEFERRED, None, f"cannot reach the mail server: {_said(exc)}"
        )
    # A bad certificate or a missing STARTTLS or AUTH will not mend itself on a retry.
    return _result(DeliveryStatus.FAILED, None, f"SMTP setup failed: {exc}")


class _Abort(Exception):
    """The connection is unusable; args: (DeliveryResult, whether none of the message was sent)."""


def _envelope(message: Composed) -> tuple[str, str, bytes]:
    """Sender, recipient and the payload for DATA: CRLF lines, dot-stuffed, ending with "."."""
    if not all(_ENVELOPE_ADDRESS.fullmatch(a) for a in (message.sender, message.recipient)):
        raise ValueError("a message to send needs exactly one From and one To address, in ASCII")
    data = message.data + (b"" if message.data.endswith(b"\r\n") else b"\r\n")
    return message.sender, message.recipient, re.sub(rb"(?m)^\.", b"..", data) + b".\r\n"


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

    def send(self, message: Composed) -> DeliveryResult:
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
            connect = (
                partial(smtplib.SMTP_SSL, context=self._tls)
                if s.scheme == "smtps"
                else smtplib.SMTP
            )
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

    def _transaction(
        self, smtp: smtplib.SMTP, sender: str, recipient: str, payload: bytes
    ) -> DeliveryResult:
        """MAIL, RCPT, DATA in steps, so a lost connection is placed before or after the data."""
        steps = (
            ("MAIL FROM", lambda: smtp.mail(sender), (250,)),
            ("RCPT TO", lambda: smtp.rcpt(recipient), (250, 251)),
            ("DATA", lambda: smtp.docmd("DATA"), (354,)),
        )
        where = (DeliveryStatus.DEFERRED, "before the message data", True)
        try:
            for stage, command, accepted in steps:
                code, reply = command()
                if code not in accepted:
                    return self._refused(smtp, stage, code, reply)
            # Until the final "." has left, the server cannot have accepted the message.
            where = (DeliveryStatus.DEFERRED, "while sending the data", False)
            smtp.send(payload)
            where = (
                DeliveryStatus.UNKNOWN,
                "after the data: maybe delivered, never resend",
                False,
            )
            code, reply = smtp.getreply()
        except OSError as exc:
            status, moment, before_data = where
            lost = f"connection lost {moment}: {_said(exc)}"
            raise _Abort(_result(status, None, lost), before_data)
        if 200 <= code < 300:
            return _result(
                DeliveryStatus.SENT, code, f"accepted: {code} {reply.decode('latin-1')}"
            )
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
