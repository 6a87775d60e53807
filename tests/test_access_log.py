"""The web process's access log keeps no address: gunicorn, with the repository's
gunicorn.conf.py as the Procfile runs it, serving a small WSGI app (the portal's own would need
its database only to answer the same path)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def app(environ, start_response):
    """Any request: 200, a word."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_access_log_names_the_path_without_query_or_referrer(tmp_path):
    port, log = free_port(), tmp_path / "access.log"
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "--bind", f"127.0.0.1:{port}", "--access-logfile", str(log)]
    server = subprocess.Popen(
        [*command, "--pythonpath", str(ROOT / "tests"), "test_access_log:app"],
        cwd=ROOT,  # where gunicorn reads gunicorn.conf.py, as under the Procfile
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}/subscriptions/customer?email=ann%40shop.example"
        request = urllib.request.Request(
            url, headers={"Referer": f"http://127.0.0.1:{port}/subscriptions?q=bob@shop.example"}
        )
        for _ in range(100):
            try:
                assert urllib.request.urlopen(request, timeout=5).status == 200
                break
            except OSError:
                time.sleep(0.1)
        else:
            raise AssertionError("gunicorn did not answer")
    finally:
        server.terminate()
        server.wait(timeout=10)
    logged = log.read_text()
    assert '"GET /subscriptions/customer HTTP/1.1" 200' in logged
    assert "ann" not in logged and "bob" not in logged and "shop.example" not in logged
