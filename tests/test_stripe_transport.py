"""The gateway's clients over the SDK's own HTTP client (stripe.RequestsClient), against
loopback servers that behave like Stripe (kept-alive connections), like the sandbox (a
connection per request), and badly; and through proxies named by the environment."""

from __future__ import annotations

import datetime
import json
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from stripe import APIConnectionError

from helpers import run_in_threads
from portal.services import stripe_gateway

PROXY_VARIABLES = ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY")


class Recorder(ThreadingHTTPServer):
    """Answers every request with JSON naming it; records (connection, method, target, headers,
    body). `close_after`: drops a connection silently after that many answers; `drop_first`:
    that many requests get no answer at all, their connection closed."""

    daemon_threads = True

    def __init__(self, close_after: int = 0, keep_alive: bool = True, drop_first: int = 0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.close_after, self.keep_alive, self.drop_first = close_after, keep_alive, drop_first
        self.seen, self.connections = [], 0
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.server.connections += 1
        self.connection_number, self.answered = self.server.connections, 0

    def do_GET(self):  # noqa: N802 (http.server naming)
        self._answer()

    def do_POST(self):  # noqa: N802
        self._answer()

    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        seen = self.server.seen
        seen.append((self.connection_number, self.command, self.path, dict(self.headers), body))
        if len(seen) <= self.server.drop_first:
            self.close_connection = True  # as if the network lost the answer
            return
        data = json.dumps({"object": "thing", "id": f"th_{len(seen)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if not self.server.keep_alive:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.answered += 1
        if self.server.close_after and self.answered >= self.server.close_after:
            self.close_connection = True  # silently, as a server dropping an idle connection

    def log_message(self, *args):
        pass


@pytest.fixture
def servers():
    running = []

    def start(**kwargs) -> Recorder:
        running.append(Recorder(**kwargs))
        return running[-1]

    yield start
    for server in running:
        server.shutdown()
        server.server_close()


@pytest.fixture
def stripe_at(app, monkeypatch):
    """stripe_at(base) -> the gateway's platform client for an API at `base`. Every test starts
    with a fresh transport and no proxy settings from the machine it runs on."""
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_live_transport")

    def client_for(base: str):
        stripe_gateway._cached_client.cache_clear()
        stripe_gateway._http_client.cache_clear()
        monkeypatch.setitem(app.config, "STRIPE_API_BASE", base)
        with app.app_context():
            return stripe_gateway.platform_client()

    yield client_for
    stripe_gateway._cached_client.cache_clear()
    stripe_gateway._http_client.cache_clear()


def _unused_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return unused.getsockname()[1]


def test_calls_share_one_kept_alive_connection(servers, stripe_at):
    server = servers()
    client = stripe_at(server.base)
    ids = [client.raw_request("get", "/v1/things", limit=3).data["id"] for _ in range(5)]
    assert ids == ["th_1", "th_2", "th_3", "th_4", "th_5"]
    assert server.connections == 1 and {s[0] for s in server.seen} == {1}
    assert server.seen[0][1:3] == ("GET", "/v1/things?limit=3")
    assert server.seen[0][3]["Authorization"] == "Bearer sk_live_transport"


def test_a_connection_the_server_dropped_is_replaced_and_the_call_made_once(servers, stripe_at):
    server = servers(close_after=1)
    client = stripe_at(server.base)
    for expected in ("th_1", "th_2", "th_3"):
        assert client.raw_request("post", "/v1/things", name="mug").data["id"] == expected
    assert [s[0] for s in server.seen] == [1, 2, 3]  # each call reached the server once
    assert all(s[4] == "name=mug" for s in server.seen)


def test_a_server_that_closes_every_connection_is_reconnected_to(servers, stripe_at):
    server = servers(keep_alive=False)  # the sandbox's werkzeug server does this
    client = stripe_at(server.base)
    ids = [client.raw_request("get", "/v1/things").data["id"] for _ in range(3)]
    assert ids == ["th_1", "th_2", "th_3"] and server.connections == 3


def test_threads_sharing_a_client_keep_their_own_connections(servers, stripe_at):
    server = servers()
    client = stripe_at(server.base)

    def calls(_):
        for _ in range(10):
            client.raw_request("get", "/v1/things")

    assert run_in_threads(calls, 4) == []
    assert len(server.seen) == 40 and server.connections == 4


def test_a_post_whose_answer_was_lost_is_sent_again_with_the_same_idempotency_key(
    servers, stripe_at
):
    server = servers(drop_first=1)
    answer = stripe_at(server.base).raw_request("post", "/v1/things", name="mug")
    assert answer.data["id"] == "th_2"
    keys = [s[3].get("Idempotency-Key") for s in server.seen]
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]


def test_a_refused_connection_is_a_retryable_connection_error(stripe_at):
    with pytest.raises(APIConnectionError) as refused:
        stripe_at(f"http://127.0.0.1:{_unused_port()}").raw_request("get", "/v1/things")
    assert refused.value.should_retry and "Connection refused" in str(refused.value)


def test_a_silent_server_times_out_and_is_tried_three_times(stripe_at, monkeypatch):
    monkeypatch.setattr(stripe_gateway, "TIMEOUT_SECONDS", 0.3)
    accepted = []
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers

        def accept():
            while len(accepted) < 3:
                accepted.append(silent.accept()[0])

        threading.Thread(target=accept, daemon=True).start()
        client = stripe_at(f"http://127.0.0.1:{silent.getsockname()[1]}")
        with pytest.raises(APIConnectionError) as timed_out:
            client.raw_request("get", "/v1/things")
    for connection in accepted:
        connection.close()
    assert timed_out.value.should_retry and "timed out" in str(timed_out.value)
    assert len(accepted) == 1 + stripe_gateway.NETWORK_RETRIES


def test_while_a_person_waits_a_silent_server_is_tried_once(app, stripe_at, monkeypatch):
    """A web request holds a server thread and a person: Stripe gets one short try."""
    monkeypatch.setattr(stripe_gateway, "INTERACTIVE_TIMEOUT_SECONDS", 0.3)
    accepted = []
    with socket.create_server(("127.0.0.1", 0)) as silent:

        def accept():
            while True:
                try:
                    accepted.append(silent.accept()[0])
                except OSError:  # closed at the end of the test
                    return

        threading.Thread(target=accept, daemon=True).start()
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        stripe_at(base)  # a fresh transport for this API
        with app.test_request_context("/settings"):
            client = stripe_gateway.platform_client()
            with pytest.raises(APIConnectionError) as timed_out:
                client.raw_request("get", "/v1/things")
        for connection in accepted:
            connection.close()
    assert "timed out" in str(timed_out.value)
    assert len(accepted) == 1 + stripe_gateway.INTERACTIVE_RETRIES == 1


def test_https_goes_through_the_environments_proxy_with_connect_and_its_credentials(
    stripe_at, monkeypatch
):
    """No TLS server is reachable here: the fake proxy records each CONNECT and refuses it."""
    requests_seen = []
    with socket.create_server(("127.0.0.1", 0)) as proxy:

        def refuse():
            while True:
                try:
                    connection, _ = proxy.accept()
                except OSError:  # the test is over: its proxy socket is closed
                    return
                with connection:
                    requests_seen.append(connection.recv(4096).decode())
                    connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

        threading.Thread(target=refuse, daemon=True).start()
        port = proxy.getsockname()[1]
        monkeypatch.setenv("HTTPS_PROXY", f"http://user:s%40cret@127.0.0.1:{port}")
        with pytest.raises(APIConnectionError):
            stripe_at("https://api.stripe.com").raw_request("get", "/v1/things")
    assert requests_seen, "the proxy was not used"
    for request in requests_seen:
        assert request.startswith("CONNECT api.stripe.com:443 HTTP/1.")
        assert "Proxy-Authorization: Basic dXNlcjpzQGNyZXQ=\r\n" in request  # user:s@cret


def test_plain_http_goes_through_the_environments_proxy_unless_no_proxy_names_the_host(
    servers, stripe_at, monkeypatch
):
    proxy, server = servers(), servers()
    monkeypatch.setenv("HTTP_PROXY", proxy.base)
    assert stripe_at("http://sandbox.internal:12111").raw_request("get", "/v1/things").data
    assert [s[2] for s in proxy.seen] == ["http://sandbox.internal:12111/v1/things"]

    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    assert stripe_at(server.base).raw_request("get", "/v1/things").data
    assert len(proxy.seen) == 1 and [s[2] for s in server.seen] == ["/v1/things"]


def test_https_refuses_a_certificate_the_sdk_bundle_does_not_vouch_for(stripe_at, tmp_path):
    """A self-signed certificate for 127.0.0.1: refused, and not tried again."""
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(*_self_signed(tmp_path))
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def handshake():
            connection, _ = listener.accept()
            try:
                tls.wrap_socket(connection, server_side=True).close()
            except (ssl.SSLError, OSError):
                connection.close()

        threading.Thread(target=handshake, daemon=True).start()
        client = stripe_at(f"https://127.0.0.1:{listener.getsockname()[1]}")
        with pytest.raises(APIConnectionError) as refused:
            client.raw_request("get", "/v1/things")
    assert not refused.value.should_retry and "CERTIFICATE_VERIFY_FAILED" in str(refused.value)


def _self_signed(directory) -> tuple[str, str]:
    """(certificate file, key file) of a fresh self-signed certificate for 127.0.0.1."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(cert_path), str(key_path)
