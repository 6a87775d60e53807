"""Fixtures that run the Stripe sandbox for real (threaded werkzeug on loopback) and a webhook receiver."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import SimpleNamespace

import pytest
import requests
import stripe
from werkzeug.serving import make_server

from stripe_sandbox import create_app

LIVE_KEY = "sk_live_sandbox_platform"
TEST_KEY = "sk_test_sandbox_platform"
FIXTURES = json.loads((Path(__file__).parent / "data" / "fixtures3-subset.json").read_text())


def make_price(client, account: str, amount: int = 2400, name: str = "Mug"):
    """A product + one-time price on the connected account."""
    options = {"stripe_account": account}
    product = client.v1.products.create({"name": name}, options=options)
    return client.v1.prices.create(
        {"unit_amount": amount, "currency": "usd", "product": product.id}, options=options
    )


def make_session(client, account: str, price_id: str, quantity: int = 2, **extra):
    """An open payment session with recovery and consent collection on."""
    params = {
        "mode": "payment",
        "line_items": [{"price": price_id, "quantity": quantity}],
        "success_url": "https://shop.example/ok?cs={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/cart",
        "consent_collection": {"promotions": "auto"},
        "after_expiration": {"recovery": {"enabled": True, "allow_promotion_codes": True}},
    }
    params.update(extra)
    return client.v1.checkout.sessions.create(params, options={"stripe_account": account})


def wait_for(predicate, timeout: float = 5.0):
    """Poll until `predicate()` is truthy; returns its value or fails the test."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


@pytest.fixture
def kit():
    """The shared builders: make_price, make_session, wait_for."""
    return SimpleNamespace(make_price=make_price, make_session=make_session, wait_for=wait_for)


@dataclass
class Sandbox:
    """A running sandbox: its base URL, app, and helpers to talk to it."""

    base: str
    app: object

    @property
    def runtime(self):
        return self.app.extensions["sandbox"]

    def client(self, key: str = LIVE_KEY) -> stripe.StripeClient:
        """A real SDK client pointed at the sandbox."""
        return stripe.StripeClient(
            key,
            base_addresses={"api": self.base, "connect": self.base},
            client_id=self.app.config["CLIENT_ID"],
            max_network_retries=0,
        )

    def account(self, name: str = "Demo Shop") -> tuple[str, dict]:
        """A connected account created by the platform: (id, its keys)."""
        account = self.client().v1.accounts.create(
            {"type": "standard", "email": "owner@example.com", "business_profile": {"name": name}}
        )
        keys = requests.get(
            f"{self.base}/_sandbox/accounts/{account.id}?format=json", timeout=5
        ).json()["keys"]
        return account.id, keys

    def post(self, path: str, **data) -> requests.Response:
        """A sandbox action (no key) as a form post."""
        return requests.post(self.base + path, data=data, timeout=5)


def serve(app) -> tuple[object, threading.Thread, str]:
    """Start `app` on a free loopback port; returns (server, thread, base URL)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_port}"


FAST = {"WEBHOOK_RETRY_DELAYS": [0.05, 0.1, 0.2], "TICK_SECONDS": 0.05, "WEBHOOK_TIMEOUT": 2.0}


@pytest.fixture
def start_sandbox():
    """start_sandbox(**config) -> Sandbox, served on loopback; stop(box) ends one early.
    Every sandbox still running is stopped after the test."""
    running = []

    def stop(box: Sandbox) -> None:
        server, thread = box.app.extensions["test_server"]
        server.shutdown()
        thread.join(5)
        box.runtime.stop()
        running.remove(box)

    def start(**config) -> Sandbox:
        app = create_app({**FAST, **config})
        server, thread, base = serve(app)
        app.config["PUBLIC_URL"] = base
        app.extensions["test_server"] = (server, thread)
        running.append(Sandbox(base, app))
        return running[-1]

    start.stop = stop
    yield start
    for box in list(running):
        stop(box)


@pytest.fixture
def sandbox(start_sandbox):
    return start_sandbox()


@dataclass
class Receiver:
    """A loopback HTTP endpoint that records webhook posts; fails the first `fail_first`."""

    url: str = ""
    fail_first: int = 0
    hits: list = field(default_factory=list)
    accepted: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, body: bytes, signature: str | None) -> int:
        with self.lock:
            self.hits.append((body, signature))
            if len(self.hits) <= self.fail_first:
                return 500
            self.accepted.append((body, signature))
            return 200

    def events(self, secret: str) -> list:
        """Accepted deliveries, each verified with stripe.Webhook.construct_event."""
        return [
            stripe.Webhook.construct_event(body.decode(), sig, secret)
            for body, sig in list(self.accepted)
        ]

    def of_type(self, secret: str, event_type: str) -> list:
        """Verified accepted events of one type."""
        return [e for e in self.events(secret) if e.type == event_type]


@pytest.fixture
def receiver():
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server naming)
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            status = state.handle(body, self.headers.get("Stripe-Signature"))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}/hook"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def fixtures() -> dict:
    """Stripe's example objects (the contract every sandbox object must match)."""
    return FIXTURES["resources"]
