"""A merchant on the sandbox, the portal live on loopback, an SMTP sink and the real worker:
the whole recovery path, driven as Stripe and a shopper would drive it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import requests
import stripe
from rq import Queue

from factories import make_connected
from portal import db, jobs, worker
from portal.models import RecoveryCase, SendingSettings
from portal.services import recovery, terms


@dataclass
class Kit:
    app: object
    sandbox: object
    sink: object
    redis: object
    account: str
    merchant_id: int

    @property
    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            self.sandbox.config["PLATFORM_SECRET_KEY"],
            stripe_account=self.account,
            base_addresses={"api": self.sandbox.base, "connect": self.sandbox.base},
        )

    def checkout(
        self,
        email: str | None,
        consent: bool = True,
        customer: str | None = None,
        locale: str | None = None,
        client: stripe.StripeClient | None = None,
    ) -> str:
        """A live session with recovery on (or one of `client`'s mode: a test key's makes a
        test-mode one); the shopper types `email` and ticks (or not) the box."""
        client = client or self.client
        price = client.v1.prices.create(
            {
                "currency": "usd",
                "unit_amount": 1800,
                "product_data": {"name": "Single-origin beans"},
            }
        )
        params = {
            "mode": "payment",
            "line_items": [{"price": price.id, "quantity": 2}],
            "success_url": "https://shop.example/ok",
            "consent_collection": {"promotions": "auto"},
            "after_expiration": {"recovery": {"enabled": True}},
        }
        if customer:  # a Customer (cus_) or, with Accounts v2, an Account (acct_)
            params["customer_account" if customer.startswith("acct_") else "customer"] = customer
        if locale:
            params["locale"] = locale
        session = client.v1.checkout.sessions.create(params)
        if email:
            self.action(
                session.id, "shopper", email=email, promotions_consent=str(consent).lower()
            )
        return session.id

    def action(self, session_id: str, name: str, **data) -> dict:
        response = requests.post(
            f"{self.sandbox.base}/_sandbox/checkout/sessions/{session_id}/{name}",
            data=data,
            timeout=5,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def settle(self) -> None:
        """Let every webhook arrive, then let the real worker drain and send (burst)."""
        assert self.sandbox.extensions["sandbox"].wait_idle(10)
        db.session.remove()
        Queue("default", connection=self.redis).enqueue(jobs.tick)
        queues = [Queue(name, connection=self.redis) for name in ("events", "mail", "default")]
        worker.run(self.app, self.redis, queues, burst=True)
        db.session.remove()

    def case(self, session_id: str) -> RecoveryCase:
        return next(
            c for c in db.session.query(RecoveryCase).all() if c.session.session_id == session_id
        )

    def run(self, function, *args, **kwargs):
        """A service call as a job makes it: inside an app context, with a fresh session, and
        (as the worker runs jobs) taking SQLite's write lock at BEGIN, so a webhook committing
        meanwhile makes it wait rather than fail."""
        intent = db.write_intent.set(True)
        try:
            with self.app.app_context():
                return function(*args, **kwargs)
        finally:
            db.write_intent.reset(intent)

    def drain(self) -> int:
        from portal.services import events

        assert self.sandbox.extensions["sandbox"].wait_idle(10)
        return self.run(events.drain)

    def later(self, session_id: str, hours: float = 2) -> str:
        """Look at the case as the worker would `hours` after it expired (a delay has passed)."""
        case = self.case(session_id)
        return self.run(
            recovery.process, case.id, now=case.session.expired_at + timedelta(hours=hours)
        )


def make_kit(
    app,
    sandbox,
    sink,
    redis,
    live_server,
    monkeypatch,
    delay_minutes: int = 0,
    public_url: str = "https://portal.example",
) -> Kit:
    """The merchant and its settings; `sink=None` keeps emails in the development outbox."""
    platform = _platform_posting_to_the_portal(
        app, sandbox, sink, live_server, monkeypatch, public_url
    )
    account_id, merchant_id = _bean_shop_ready_to_recover(platform, delay_minutes)
    return Kit(app, sandbox, sink, redis, account_id, merchant_id)


def _platform_posting_to_the_portal(app, sandbox, sink, live_server, monkeypatch, public_url: str):
    """The sandbox platform with a Connect webhook to the live portal, configured to match."""
    platform = stripe.StripeClient(
        sandbox.config["PLATFORM_SECRET_KEY"],
        base_addresses={"api": sandbox.base, "connect": sandbox.base},
    )
    endpoint = platform.v1.webhook_endpoints.create(
        {"url": f"{live_server}/webhooks/stripe/connect", "connect": True, "enabled_events": ["*"]}
    )
    for name, value in {
        "STRIPE_CONNECT_WEBHOOK_SECRET": endpoint.secret,
        "SMTP_URL": sink.url() if sink else "",
        "PUBLIC_URL": public_url,
        "MAIL_FROM": "Cart Recovery <recovery@portal.example>",
    }.items():
        monkeypatch.setitem(app.config, name, value)
    return platform


def _bean_shop_ready_to_recover(platform, delay_minutes: int) -> tuple[str, int]:
    """Bean Shop connected, terms accepted, recovery on, one email `delay_minutes` after expiry."""
    account = platform.v1.accounts.create(
        {
            "type": "standard",
            "business_profile": {"name": "Bean Shop", "url": "https://bean.example"},
        }
    )
    owner = make_connected(account.id, name="Bean Shop", email="owner@bean.example")
    merchant = owner.merchant
    terms.accept(merchant, owner, "127.0.0.1")
    merchant.recovery_enabled = True
    db.session.add(
        SendingSettings(
            merchant_id=merchant.id,
            steps=[{"delay_minutes": delay_minutes}],
            postal_address="Bean Shop\n2 Harbour St\nBristol",
            sender_name="Bean Shop",
        )
    )
    db.session.commit()
    return account.id, merchant.id
