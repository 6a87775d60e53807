"""Stripe sandbox: an offline, stateful stand-in for the part of Stripe's API the portal uses.

`create_app()` builds the Flask app; `python -m stripe_sandbox` serves it. The portal never
imports this package: it talks to it over HTTP with the real `stripe` SDK.
"""

from __future__ import annotations

import time

from flask import Flask, g, request

DEFAULTS = {
    "PLATFORM_SECRET_KEY": "sk_live_sandbox_platform",
    "PLATFORM_TEST_SECRET_KEY": "sk_test_sandbox_platform",
    "CLIENT_ID": "ca_sandbox_platform",
    "PLATFORM_NAME": "Cart Recovery Portal",
    "PUBLIC_URL": "http://127.0.0.1:12111",
    "WEBHOOK_RETRY_DELAYS": [1, 5, 30, 120, 600],
    "WEBHOOK_TIMEOUT": 10.0,
    "TICK_SECONDS": 1.0,
    "STATE_FILE": None,  # a JSON file to keep state across restarts (None: memory only)
    "CONNECT_WEBHOOK_URL": None,  # a Connect endpoint to register at start-up ...
    "CONNECT_WEBHOOK_SECRET": None,  # ... signing with this fixed secret
    "API_LATENCY_MS": 0,  # each /v1/ call is answered this much later (real Stripe: 100-200)
}


def create_app(config: dict | None = None) -> Flask:
    """A sandbox app with fresh, empty state; background threads start on first use."""
    from . import (
        api_accounts,
        api_catalog,
        api_checkout,
        checkout_pages,
        dashboard,
        errors,
        oauth,
        sandbox_pages,
        shop,
    )
    from .runtime import Sandbox

    app = Flask(__name__)
    app.config.update(DEFAULTS)
    app.config.update(config or {})
    app.extensions["sandbox"] = Sandbox(app.config)
    errors.register(app)
    app.before_request(_before_request)
    app.after_request(_after_request)
    for blueprint in (
        api_accounts.bp,
        api_catalog.bp,
        api_checkout.bp,
        oauth.bp,
        checkout_pages.bp,
        sandbox_pages.bp,
        dashboard.bp,
        shop.bp,
    ):
        app.register_blueprint(blueprint)
    return app


def _before_request() -> None:
    from flask import current_app

    from .state import new_id

    current_app.extensions["sandbox"].ensure_ticker()
    if request.path.startswith("/v1/"):
        g.request_id = new_id("req_", 14)
        # Stands in for the network between a client and Stripe; pages and webhooks do not wait.
        if current_app.config["API_LATENCY_MS"]:
            time.sleep(current_app.config["API_LATENCY_MS"] / 1000)


def _after_request(response):
    if g.get("request_id"):
        response.headers["Request-Id"] = g.request_id
    return response
