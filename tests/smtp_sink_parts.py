"""The aiosmtpd plumbing behind smtp_sink.SmtpSink: what it records, its certificate, its
server and the hooks that apply its knobs."""

from __future__ import annotations

import asyncio
import ipaddress
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from smtp_sink import SmtpSink


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes  # exactly as received (dot-unstuffed, CRLF)
    message: EmailMessage  # parsed with email.policy.default
    connection: int  # 1 for the first session the sink saw, 2 for the next...
    tls: bool  # the session was encrypted (STARTTLS or implicit TLS)
    login: str | None  # the AUTH user name, when the session authenticated


def write_self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for localhost/127.0.0.1 and its key, valid for a day, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(timezone.utc)
    names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


class SinkSMTP(SMTP):
    """aiosmtpd's SMTP, telling the sink when a connection opens and closes."""

    def __init__(self, sink: SmtpSink, *args, **kwargs):
        self._sink = sink
        self.number = 0  # set by the sink at the first EHLO/HELO
        super().__init__(*args, **kwargs)

    def connection_made(self, transport):
        first = self.transport is None  # STARTTLS calls this again on the same connection
        super().connection_made(transport)
        if first:
            self._sink._track(self, opened=True)

    def connection_lost(self, error):
        self._sink._track(self, opened=False)
        super().connection_lost(error)


class SinkController(Controller):
    def __init__(self, sink: SmtpSink, **kwargs):
        self._sink = sink
        super().__init__(sink._handler, hostname="127.0.0.1", **kwargs)

    def factory(self):
        with warnings.catch_warnings():
            # With implicit TLS, aiosmtpd sees AUTH without (STARTTLS) TLS; the session is all TLS.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return SinkSMTP(self._sink, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self):
        # Port 0 lets the OS pick a free port: learn it before aiosmtpd's start-up probe uses it.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class SinkHandler:
    """aiosmtpd hooks that apply the sink's knobs and record what was accepted."""

    sink: SmtpSink

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.sink._greeted(server)
        return responses

    async def handle_HELO(self, server, session, envelope, hostname):
        session.host_name = hostname
        self.sink._greeted(server)
        return f"250 {server.hostname}"

    async def handle_MAIL(self, server, session, envelope, address, options):
        if self.sink.reject_mail_from:
            return self.sink.reject_mail_from
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, options):
        if self.sink._take("tempfail_rcpt"):
            return "451 4.3.0 Temporary failure, try again later"
        if self.sink.rcpt_reply:
            return self.sink.rcpt_reply
        if address in self.sink.reject_recipients:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        received = self.sink._received(server, session, envelope)
        if self.sink._take("drop_after_data"):
            self.sink.dropped.append(received)
            server.transport.abort()
            await asyncio.Event().wait()  # cancelled when the connection is gone: no reply ever
        if self.sink.data_reply:
            return self.sink.data_reply
        self.sink.messages.append(received)
        return f"250 2.0.0 OK queued as {len(self.sink.messages)}"
