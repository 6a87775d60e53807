"""The baseline for bench/ingest.py: a bare Flask app whose webhook route only answers 200.

Served by gunicorn with the same settings as the portal (`gunicorn --pythonpath bench
_trivial_app:app`), it shows what the server, the client and Flask cost on their own.
Running this file directly only prints a note (`make bench` runs every bench/*.py).
"""

from __future__ import annotations

from flask import Flask, request

app = Flask(__name__)


@app.post("/webhooks/stripe/connect")
def connect():
    """Read the body, as the portal does, and answer like the portal's `stored` reply."""
    request.get_data(cache=False)
    return "stored\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


if __name__ == "__main__":
    print("bench/_trivial_app.py is the baseline app that bench/ingest.py serves; nothing to run.")
