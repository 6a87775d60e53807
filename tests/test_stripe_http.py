"""The Stripe SDK's transport (stripe_http.py) against loopback servers that behave like
Stripe (kept-alive connections), like the sandbox (a connection per request), and badly."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from stripe import APIConnectionError, StripeClient

from helpers import run_in_threads
from portal.services.stripe_http import KeepAliveClient, environ_proxy


class Recorder(ThreadingHTTPServer):
    """Answers every request with JSON naming it; records (connection, method, target, headers, body)."""

    daemon_threads = True

    def __init__(self, close_after: int | None = None, keep_alive: bool = True):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.close_after, self.keep_alive = close_after, keep_alive
        self.seen, self.connections = [], 0
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.server.connections += 1
        self.connection_number, self.answered = self.server.connections, 0

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self._answer()

    def _answer(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.server.seen.append((self.connection_number, self.command, self.path, dict(self.headers), body))
        data = json.dumps({"object": "thing", "id": f"th_{len(self.server.seen)}"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Request-Id", "req_test")
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


def _client(base: str, transport: KeepAliveClient | None = None, retries: int = 0) -> StripeClient:
    return StripeClient("sk_test_transport", base_addresses={"api": base},
                        http_client=transport or KeepAliveClient(), max_network_retries=retries)


def test_calls_share_one_kept_alive_connection(servers):
    server = servers()
    client = _client(server.base)
    ids = [client.raw_request("get", "/v1/things", limit=3).data["id"] for _ in range(5)]
    assert ids == ["th_1", "th_2", "th_3", "th_4", "th_5"]
    assert server.connections == 1 and {s[0] for s in server.seen} == {1}
    assert server.seen[0][1:3] == ("GET", "/v1/things?limit=3")
    assert server.seen[0][3]["Authorization"] == "Bearer sk_test_transport"


def test_a_connection_the_server_dropped_is_replaced_and_the_call_made_once(servers):
    server = servers(close_after=1)
    client = _client(server.base)
    for expected in ("th_1", "th_2", "th_3"):
        assert client.raw_request("post", "/v1/things", name="mug").data["id"] == expected
    assert [s[0] for s in server.seen] == [1, 2, 3]  # each call reached the server once
    assert all(s[4] == "name=mug" for s in server.seen)


def test_a_server_that_closes_every_connection_is_reconnected_to(servers):
    server = servers(keep_alive=False)  # the sandbox's werkzeug server does this
    client = _client(server.base)
    assert [client.raw_request("get", "/v1/things").data["id"] for _ in range(3)] == ["th_1", "th_2", "th_3"]
    assert server.connections == 3


def test_threads_sharing_a_client_keep_their_own_connections(servers):
    server = servers()
    client = _client(server.base)

    def calls(_):
        for _ in range(10):
            client.raw_request("get", "/v1/things")

    assert run_in_threads(calls, 4) == []
    assert len(server.seen) == 40 and server.connections == 4


def test_refused_and_silent_servers_raise_retryable_connection_errors():
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(APIConnectionError) as refused:
        _client(f"http://127.0.0.1:{port}").raw_request("get", "/v1/things")
    assert refused.value.should_retry and "ConnectionRefusedError" in str(refused.value)

    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(APIConnectionError) as timed_out:
            _client(base, KeepAliveClient(timeout=0.3)).raw_request("get", "/v1/things")
    assert timed_out.value.should_retry and "timed out" in str(timed_out.value)


def test_https_goes_through_the_proxy_with_connect_and_its_credentials():
    """No TLS server is reachable here: the fake proxy records the CONNECT and refuses it."""
    requests_seen = []
    with socket.create_server(("127.0.0.1", 0)) as proxy:
        def refuse():
            connection, _ = proxy.accept()
            with connection:
                requests_seen.append(connection.recv(4096).decode())
                connection.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")

        thread = threading.Thread(target=refuse, daemon=True)
        thread.start()
        transport = KeepAliveClient(proxy={"https": f"http://user:s%40cret@127.0.0.1:{proxy.getsockname()[1]}"})
        with pytest.raises(APIConnectionError):
            _client("https://api.stripe.com", transport).raw_request("get", "/v1/things")
        thread.join(5)
    (request,) = requests_seen
    assert request.startswith("CONNECT api.stripe.com:443 HTTP/1.")
    assert "Proxy-Authorization: Basic dXNlcjpzQGNyZXQ=\r\n" in request  # user:s@cret


def test_plain_http_through_a_proxy_asks_for_the_absolute_url(servers):
    proxy = servers()
    transport = KeepAliveClient(proxy={"http": proxy.base})
    assert _client("http://sandbox.internal:12111", transport).raw_request("get", "/v1/things").data
    assert proxy.seen[0][2] == "http://sandbox.internal:12111/v1/things"


def test_proxy_settings_follow_the_environment_and_no_proxy(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    assert environ_proxy("https://api.stripe.com") is None
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert environ_proxy("https://api.stripe.com") == {"https": "http://proxy.internal:3128"}
    assert environ_proxy("http://127.0.0.1:12111") is None  # no HTTP_PROXY
    monkeypatch.setenv("NO_PROXY", "api.stripe.com,.internal")
    assert environ_proxy("https://api.stripe.com:443") is None
    assert environ_proxy("https://connect.stripe.com") == {"https": "http://proxy.internal:3128"}


def test_https_verifies_certificates_against_the_sdk_bundle():
    tls = KeepAliveClient().tls
    assert tls.verify_mode.name == "CERT_REQUIRED" and tls.check_hostname is True
