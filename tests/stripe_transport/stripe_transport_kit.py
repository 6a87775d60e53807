"""A loopback HTTP server that records each request, and may drop answers or connections."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
