"""Setup for bench/delivery.py (not timed): the Stripe sandbox as a child process holding N
expired sessions, and the portal's database holding the N due cases that mirror them.

Not a benchmark itself (`make bench` runs it and only gets a note): delivery.py uses it.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import _common as common

SEED_BATCH = 500  # sandbox sessions created, then mirrored, per batch (bounds setup memory)
PLATFORM_KEY = "sk_live_sandbox_platform"


# --- the Stripe sandbox (a child process on loopback) ---------------------------------------


def start_sandbox(env: dict, log: Path, latency_ms: int = 0):
    """`python -m stripe_sandbox` on a free loopback port, answering each API call `latency_ms`
    late; (process, base URL)."""
    port = common.free_port()
    proc = common.start(
        [
            str(common.VENV_BIN / "python"),
            "-m",
            "stripe_sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            "--quiet",
        ],
        env,
        log,
    )
    try:
        common.wait_for_port(port, proc)
    except BaseException:
        common.stop(proc)
        raise
    return proc, f"http://127.0.0.1:{port}"


@dataclass
class Sandbox:
    """Plain HTTP calls to the sandbox, as the platform or as the connected account."""

    base: str
    account: str = ""
    price_ids: list = field(default_factory=list)

    def call(self, http, path: str, data: dict | None = None, as_account: bool = True) -> dict:
        """POST `data` to `path` (form-encoded like the SDK); the JSON answer or RuntimeError."""
        headers = {"Authorization": f"Bearer {PLATFORM_KEY}"}
        if as_account and self.account:
            headers["Stripe-Account"] = self.account
        response = http.post(self.base + path, data=data or {}, headers=headers, timeout=30)
        if response.status_code != 200:
            raise RuntimeError(f"sandbox {path}: {response.status_code} {response.text[:300]}")
        return response.json()

    def set_up_account(self, http) -> dict:
        """A connected Standard account with a shop profile and two products' prices."""
        account = self.call(
            http,
            "/v1/accounts",
            {
                "type": "standard",
                "email": "owner@bench-shop.example",
                "business_profile[name]": "Bench Coffee",
                "business_profile[url]": "https://bench.example",
                "business_profile[support_email]": "help@bench.example",
            },
            as_account=False,
        )
        self.account = account["id"]
        for name, amount in (("Single-origin beans, 250 g", 1800), ("Hand grinder", 4500)):
            price = self.call(
                http,
                "/v1/prices",
                {"currency": "usd", "unit_amount": amount, "product_data[name]": name},
            )
            self.price_ids.append(price["id"])
        return account

    def expired_session(self, http, email: str) -> dict:
        """A live session (two lines) the shopper filled in with consent, then expired."""
        session = self.call(
            http,
            "/v1/checkout/sessions",
            {
                "mode": "payment",
                "success_url": "https://bench.example/thanks",
                "line_items[0][price]": self.price_ids[0],
                "line_items[0][quantity]": 2,
                "line_items[1][price]": self.price_ids[1],
                "line_items[1][quantity]": 1,
                "consent_collection[promotions]": "auto",
                "after_expiration[recovery][enabled]": "true",
            },
        )
        shop = f"/_sandbox/checkout/sessions/{session['id']}"
        self.call(
            http,
            f"{shop}/shopper",
            {"email": email, "promotions_consent": "true", "name": "Bench Shopper"},
        )
        return self.call(http, f"{shop}/expire")


def create_sessions(sandbox: Sandbox, emails: list[str], threads: int) -> list[dict]:
    """Expired sandbox sessions for `emails`, created over `threads` keep-alive clients."""
    import threading

    import requests

    local = threading.local()

    def one(email: str) -> dict:
        if not hasattr(local, "http"):
            local.http = requests.Session()
        return sandbox.expired_session(local.http, email)

    pool = ThreadPoolExecutor(max_workers=threads)
    try:
        return list(pool.map(one, emails))
    finally:  # on Ctrl-C or an error, queued sessions are dropped, not created first
        pool.shutdown(wait=True, cancel_futures=True)


# --- the portal side ------------------------------------------------------------------------


# A design saved in the editor, as merchants have: every email is rendered from a version.
EDITED = {
    "subject": "{customer_name}, your {merchant_name} order is one click away",
    "preheader": "Fresh beans, saved for you until {recovery_link_expires}.",
    "headline": "Still craving {merchant_name} coffee?",
    "body": "Hi {customer_name},\n\nYour cart is roasted and ready: {cart_total} of "
    "small-batch coffee.\nCome back before {recovery_link_expires} to finish your order.\n\n"
    "Questions about grind or brew? Just reply: a real person reads every email.",
    "button_label": "Finish my order",
    "footer": "You get this because you asked {merchant_name} for news at checkout.",
}


def seed_merchant(app, account: dict) -> int:
    """A merchant connected (OAuth, live) to the sandbox account, terms accepted, recovery on,
    one step 0 minutes after expiry, a postal address, and an edited email design saved in the
    editor (version 1); returns its id."""
    from portal import db
    from portal.services import accounts, connections, terms

    profile = account["business_profile"]
    with app.app_context():
        owner = accounts.create_merchant(
            "Bench Coffee", "owner@bench-shop.example", "bench-password-123"
        )
        merchant = owner.merchant
        connections.link_account(
            merchant,
            account["id"],
            livemode=True,
            method="oauth",
            display_name=profile["name"],
            shop_url=profile["url"],
            support_email=profile["support_email"],
        )
        terms.accept(merchant, owner, "127.0.0.1")
        merchant.recovery_enabled = True
        _set_up_sending(merchant, owner)
        db.session.commit()
        return merchant.id


def _set_up_sending(merchant, owner) -> None:
    """One step 0 minutes after expiry, a postal address, and the EDITED design saved by
    `owner` (uncommitted)."""
    from portal import db
    from portal.mail.content import Content
    from portal.models import SendingSettings
    from portal.services import email_design

    db.session.add(
        SendingSettings(
            merchant_id=merchant.id,
            steps=[{"delay_minutes": 0}],
            sender_name="Bench Coffee",
            postal_address="Bench Coffee\n1 Loopback Lane\nLocalhost 127",
        )
    )
    design = email_design.Design(
        Content(**EDITED), "https://images.bench-coffee.net/logo.png", "#6f4e37"
    )
    assert not email_design.problems(design)
    email_design.save(merchant, owner, 0, design)


def mirror_expired(app, merchant_id: int, objects: list[dict]) -> None:
    """Apply `checkout.session.expired` snapshots with the drain's own calls; commit."""
    from portal import db
    from portal.services import cases, consent, sessions

    event_created = datetime.now(timezone.utc) - timedelta(seconds=5)
    with app.app_context():
        mirrors = sessions.apply(
            [
                sessions.Snapshot(merchant_id, "checkout.session.expired", event_created, obj)
                for obj in objects
            ]
        )
        consent.record(consent.from_sessions(mirrors))
        cases.sync(mirrors)
        db.session.commit()


def seed_cases(
    app, sandbox_base: str, count: int, threads: int, tag: str
) -> tuple[int, list[str]]:
    """The sandbox account and `count` expired sessions, mirrored batch by batch so neither
    side holds all of them at once here; (merchant id, the shoppers' emails)."""
    import requests

    sandbox = Sandbox(sandbox_base)
    with requests.Session() as http:
        account = sandbox.set_up_account(http)
    merchant_id = seed_merchant(app, account)
    emails = [f"shopper{i:06d}.{tag}@example.com" for i in range(count)]
    for start in range(0, count, SEED_BATCH):
        mirror_expired(
            app, merchant_id, create_sessions(sandbox, emails[start : start + SEED_BATCH], threads)
        )
    return merchant_id, emails


def due_case_ids(app) -> list[int]:
    """Every case due now, oldest first (all of them, unlike the tick's batches of 500)."""
    from sqlalchemy import select

    from portal import db
    from portal.models import RecoveryCase

    with app.app_context():
        return list(
            db.session.scalars(
                select(RecoveryCase.id)
                .where(
                    RecoveryCase.status.in_(("new", "scheduled")),
                    RecoveryCase.next_action_at <= datetime.now(timezone.utc),
                )
                .order_by(RecoveryCase.id)
            )
        )


def seed_domain(app, merchant_id: int) -> None:
    """The merchant's own sending domain with a fresh DKIM key, marked verified (no DNS here:
    what is measured is signing, and From the domain, per email)."""
    from portal import db
    from portal.models import DomainStatus, Merchant
    from portal.services import domains

    with app.app_context():
        row = domains.create(db.session.get(Merchant, merchant_id), "bench-shop.example")
        row.status = DomainStatus.VERIFIED
        db.session.commit()


def set_signing(database_url: str, on: bool) -> None:
    """Turn the merchant's domain on (verified: signed) or off (pending: the platform sender)."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        conn.execute("UPDATE sending_domains SET status = %s", ("verified" if on else "pending",))
