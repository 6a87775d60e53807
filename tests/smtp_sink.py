"""A loopback SMTP server for tests and benchmarks, built on aiosmtpd, that records what it gets.

    with SmtpSink() as sink:                          # plain SMTP on 127.0.0.1, a free port
        Mailer(parse_smtp_url(sink.url())).send(message)
        assert sink.messages[0].message["Subject"] == "Hello" and sink.connections == 1

    SmtpSink(starttls=True, require_starttls=True)    # self-signed cert; sink.url() adds verify=false
    SmtpSink(implicit_tls=True)                       # SMTPS: TLS from the first byte
    SmtpSink(starttls=True, users={"ann": "pw"})      # AUTH required; URL from sink.url("ann", "pw")

Knobs, settable at any time from the test's thread:
    sink.tempfail_rcpt = 2              # the next 2 RCPT TO get "451 4.3.0"
    sink.reject_recipients.add(addr)    # RCPT TO addr gets "550 5.1.1"
    sink.rcpt_reply = "554 5.7.1 Relay access denied"     # every RCPT TO gets this reply
    sink.reject_mail_from = "553 5.7.1 Sender rejected"   # every MAIL FROM gets this reply
    sink.data_reply = "554 5.7.1 Spam"  # the reply after DATA instead of 250 (nothing recorded)
    sink.drop_after_data = 1            # take the next message's data, then hang up unanswered
    sink.disconnect_all()               # the server closes every open connection now
    sink.restart()                      # stop, then listen again on the same port

Recorded: `messages` (accepted, as `Received`), `dropped` (taken in by drop_after_data),
`connections` (SMTP sessions that said EHLO/HELO), `open_connections`. `wait_for(n)` waits for
messages sent from another thread or process; `clear()` forgets them and resets the knobs.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


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


class _SinkSMTP(SMTP):
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


class _SinkController(Controller):
    def __init__(self, sink: SmtpSink, **kwargs):
        self._sink = sink
        super().__init__(sink._handler, hostname="127.0.0.1", **kwargs)

    def factory(self):
        with warnings.catch_warnings():
            # With implicit TLS, aiosmtpd sees AUTH without (STARTTLS) TLS; the session is all TLS.
            warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS")
            return _SinkSMTP(self._sink, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self):
        # Port 0 lets the OS pick a free port: learn it before aiosmtpd's start-up probe uses it.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


@dataclass
class _Handler:
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


class SmtpSink:
    """A recording SMTP server on 127.0.0.1; see the module docstring for usage."""

    def __init__(
        self,
        *,
        starttls: bool = False,
        require_starttls: bool = False,
        implicit_tls: bool = False,
        users: dict[str, str] | None = None,
        auth_require_tls: bool = True,
        port: int = 0,
    ):
        self.starttls, self.require_starttls = starttls or require_starttls, require_starttls
        self.implicit_tls, self.port = implicit_tls, port
        self.users, self.auth_require_tls = users, auth_require_tls
        self.connections = 0
        self.clear()
        self._handler = _Handler(self)
        self._lock = threading.Lock()
        self._open: set[_SinkSMTP] = set()
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._tls: ssl.SSLContext | None = None
        self._controller: _SinkController | None = None

    def clear(self) -> None:
        """Forget what was received and reset every knob; the connection count goes on."""
        self.messages: list[Received] = []
        self.dropped: list[Received] = []
        self.tempfail_rcpt = self.drop_after_data = 0
        self.reject_recipients: set[str] = set()
        self.reject_mail_from: str | None = None
        self.rcpt_reply: str | None = None
        self.data_reply: str | None = None

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        """The first `count` accepted messages, once they are in (for senders in other threads)."""
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.messages)} of {count} messages came in {timeout} s")
            time.sleep(0.01)
        return self.messages[:count]

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._open)

    def url(self, username: str | None = None, password: str | None = None) -> str:
        """An SMTP_URL for this sink (verify=false when it uses its self-signed certificate)."""
        auth = f"{quote(username, safe='')}:{quote(password or '', safe='')}@" if username else ""
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"{scheme}://{auth}127.0.0.1:{self.port}" + ("?verify=false" if self._tls else "")

    def start(self) -> SmtpSink:
        if (self.starttls or self.implicit_tls) and self._tls is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="smtp-sink-")
            self._tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._tls.load_cert_chain(*write_self_signed_cert(Path(self._tmp.name)))
        self._controller = _SinkController(self, port=self.port, **self._smtp_options())
        try:
            self._controller.start()
        except BaseException:
            self.stop()
            raise
        self.port = self._controller.port
        return self

    def _smtp_options(self) -> dict:
        options: dict = {"server_hostname": "sink.test", "ready_timeout": 5.0}
        if self.implicit_tls:
            # aiosmtpd counts only STARTTLS as TLS for AUTH; here the whole session is encrypted.
            options.update(ssl_context=self._tls, auth_require_tls=False)
        elif self.starttls:
            options.update(tls_context=self._tls, require_starttls=self.require_starttls)
        if self.users is not None:
            options.update(authenticator=self._authenticate, auth_required=True)
            options.setdefault("auth_require_tls", self.auth_require_tls)
        return options

    def stop(self) -> None:
        """Close every connection, stop listening and delete the certificate files."""
        if self._controller is not None:
            self.disconnect_all()
            self._controller.stop()
            self._controller = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def restart(self) -> None:
        """Stop (closing every connection) and listen again on the same port."""
        self.disconnect_all()
        self._controller.stop()
        self._controller = _SinkController(self, port=self.port, **self._smtp_options())
        self._controller.start()

    def disconnect_all(self) -> None:
        """The server hangs up on every open connection, as one restarting or timing out would."""

        async def close_all():
            for protocol in list(self._open):
                if protocol.transport is not None:
                    # abort, not close: a TLS close would wait for the client's close_notify
                    protocol.transport.abort()
            while self._open:
                await asyncio.sleep(0.005)

        if self._controller is not None and self._controller.loop.is_running():
            asyncio.run_coroutine_threadsafe(close_all(), self._controller.loop).result(timeout=5)

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # Called from the server's thread.

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode() if isinstance(auth_data, LoginPassword) else None
        ok = login is not None and self.users.get(login) == auth_data.password.decode()
        return AuthResult(success=ok, handled=False, auth_data=login if ok else None)

    def _track(self, protocol: _SinkSMTP, opened: bool) -> None:
        with self._lock:
            (self._open.add if opened else self._open.discard)(protocol)

    def _greeted(self, server) -> None:
        with self._lock:
            if not server.number:
                self.connections += 1
                server.number = self.connections

    def _take(self, knob: str) -> bool:
        """Use up one unit of a counting knob; False once it is at zero."""
        with self._lock:
            left = getattr(self, knob)
            setattr(self, knob, max(left - 1, 0))
            return left > 0

    def _received(self, server, session, envelope) -> Received:
        data = envelope.original_content or b""
        return Received(
            envelope.mail_from,
            tuple(envelope.rcpt_tos),
            data,
            message_from_bytes(data, policy=policy.default),
            server.number,
            server.transport.get_extra_info("ssl_object") is not None,
            session.auth_data if session.authenticated else None,
        )
