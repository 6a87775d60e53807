"""Linking merchants to Stripe accounts and seeding the demo, against the real sandbox."""

from __future__ import annotations

import requests
import stripe

from factories import make_owner
from portal.models import Merchant, SendingSettings, StripeAccount
from portal.services import connections, demo, onboarding, stripe_gateway, terms


def _platform(sandbox) -> stripe.StripeClient:
    return stripe.StripeClient(
        sandbox.config["PLATFORM_SECRET_KEY"],
        base_addresses={"api": sandbox.base, "connect": sandbox.base},
    )


def _new_account(sandbox, name: str = "Tea Shop") -> str:
    return (
        _platform(sandbox)
        .v1.accounts.create({"type": "standard", "business_profile": {"name": name}})
        .id
    )


def test_demo_connects_a_sandbox_account_with_products_and_is_idempotent(app, db, sandbox_server):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    merchant = db.query(Merchant).one()
    account = merchant.stripe_account
    assert (account.method, account.livemode, account.is_connected) == ("oauth", True, True)
    assert terms.has_accepted_current(merchant) and merchant.recovery_enabled
    assert f"/shop/{account.account_id}" in first.output and demo.EMAIL in first.output
    assert db.get(SendingSettings, merchant.id).reply_to == "hello@demo-coffee.example"
    prices = _platform(sandbox_server).v1.prices.list(
        options={"stripe_account": account.account_id}
    )
    assert sorted(p.unit_amount for p in prices.data) == [1200, 2400, 5900]
    with app.app_context():  # what Settings offers for promotion codes
        offered = stripe_gateway.list_coupons(account)
    assert [(c["id"], c["percent_off"]) for c in offered] == [("WELCOME10", 10)]

    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0, second.output
    db.expire_all()
    assert db.query(StripeAccount).one().account_id == account.account_id
    again = _platform(sandbox_server).v1.prices.list(
        options={"stripe_account": account.account_id}
    )
    assert len(again.data) == 3
    with app.app_context():
        assert len(stripe_gateway.list_coupons(account)) == 1


def test_demo_links_a_fresh_account_when_stripe_forgot_the_old_one(app, db, sandbox_server):
    owner = make_owner(email=demo.EMAIL)
    connections.link_account(owner.merchant, "acct_1Forgotten", livemode=True, method="oauth")
    db.commit()
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    db.expire_all()
    assert db.query(StripeAccount).one().account_id not in ("acct_1Forgotten",)


def test_demo_without_a_sandbox_names_the_problem(app, monkeypatch):
    no_key = app.test_cli_runner().invoke(args=["demo"])
    assert no_key.exit_code == 1 and "STRIPE_SECRET_KEY is not set" in no_key.output
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", "sk_live_sandbox_platform")
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:9")
    result = app.test_cli_runner().invoke(args=["demo", "--wait", "0"])
    assert result.exit_code == 1
    assert "does not answer" in result.output and "flask sandbox" in result.output


def test_merchants_connect_links_an_existing_account(app, db, sandbox_server):
    owner = make_owner("Tea Shop", "tea@example.com")
    account_id = (
        _platform(sandbox_server)
        .v1.accounts.create(
            {
                "type": "standard",
                "business_profile": {"name": "Tea Shop"},
                "settings": {"branding": {"primary_color": "#3A7D44"}},
            }
        )
        .id
    )
    result = app.test_cli_runner().invoke(
        args=["merchants", "connect", "tea@example.com", account_id]
    )
    assert result.exit_code == 0, result.output
    linked = db.query(StripeAccount).one()
    assert (linked.merchant_id, linked.account_id, linked.display_name) == (
        owner.merchant_id,
        account_id,
        "Tea Shop",
    )
    sending = db.get(SendingSettings, owner.merchant_id)  # the defaults Connect gives, as well
    assert (sending.sender_name, sending.brand_color) == ("Tea Shop", "#3a7d44")


def test_merchants_connect_refusals(app, db, sandbox_server):
    make_owner(email="a@example.com")
    make_owner(email="b@example.com")
    account_id = _new_account(sandbox_server)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["merchants", "connect", "a@example.com", account_id]).exit_code == 0
    taken = runner.invoke(args=["merchants", "connect", "b@example.com", account_id])
    unknown = runner.invoke(args=["merchants", "connect", "b@example.com", "acct_1Nope"])
    nobody = runner.invoke(args=["merchants", "connect", "zed@example.com", account_id])
    assert "already linked to another merchant" in taken.output
    assert "No such account: 'acct_1Nope'" in unknown.output
    assert "No user with the email address zed@example.com" in nobody.output
    assert {taken.exit_code, unknown.exit_code, nobody.exit_code} == {1}
    assert db.query(StripeAccount).count() == 1


def test_direct_mode_reaches_stripe_with_the_merchants_own_sealed_key(app, db, sandbox_server):
    owner = make_owner()
    account_id = _new_account(sandbox_server, "Direct Shop")
    keys = requests.get(
        f"{sandbox_server.base}/_sandbox/accounts/{account_id}?format=json", timeout=5
    ).json()["keys"]
    with app.app_context():
        linked = connections.link_account(
            owner.merchant,
            account_id,
            livemode=True,
            method="direct",
            api_key=keys["rk_live"],
            webhook_secret="whsec_direct",
            keys=app.config["ENCRYPTION_KEY"],
        )
        db.commit()
        assert keys["rk_live"] not in linked.api_key_sealed
        assert (
            stripe_gateway.account_client(linked).v1.accounts.retrieve_current().id == account_id
        )


def test_checklist_reflects_the_real_state(app, db, sandbox_server):
    app.test_cli_runner().invoke(args=["demo"])
    steps = {s.key: s.done for s in onboarding.checklist(db.query(Merchant).one())}
    assert steps == {
        "connect": True,
        "terms": True,
        "address": True,
        "email": False,
        "domain": False,
        "enable": True,
    }
