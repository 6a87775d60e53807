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
import ssl
import tempfile
import threading
import time
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import quote

from aiosmtpd.smtp import AuthResult, LoginPassword

from smtp_sink_parts import Received, SinkController, SinkHandler, SinkSMTP, write_self_signed_cert


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
        self._handler = SinkHandler(self)
        self._lock = threading.Lock()
        self._open: set[SinkSMTP] = set()
        self._tmp: tempfile.TemporaryDirectory | None = None
        self._tls: ssl.SSLContext | None = None
        self._controller: SinkController | None = None

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
        self._controller = SinkController(self, port=self.port, **self._smtp_options())
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
        self._controller = SinkController(self, port=self.port, **self._smtp_options())
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

    def _track(self, protocol: SinkSMTP, opened: bool) -> None:
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
