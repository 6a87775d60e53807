"""Stripe transport fixtures: recording servers, and the gateway's client for an API at a base."""

from __future__ import annotations

import pytest

from portal.services import stripe_gateway
from stripe_transport_kit import PROXY_VARIABLES, Recorder


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
