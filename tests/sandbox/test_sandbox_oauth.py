"""Connect OAuth: authorize page, redirect with code and state, one-time token, deauthorize."""

from __future__ import annotations

import re

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import stripe


def _authorize_url(sandbox, state="st-123"):
    return sandbox.client().oauth.authorize_url(
        {
            "response_type": "code",
            "scope": "read_write",
            "state": state,
            "redirect_uri": "https://portal.example/connect/callback",
        }
    )


def _choose(sandbox, url, **form):
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    response = requests.post(
        f"{sandbox.base}/oauth/authorize", data={**query, **form}, allow_redirects=False, timeout=5
    )
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    return location, {k: v[0] for k, v in parse_qs(location.query).items()}


def test_authorize_page_lists_accounts(sandbox):
    account, _ = sandbox.account("Existing Shop")
    page = requests.get(_authorize_url(sandbox), timeout=5)
    assert page.status_code == 200
    assert "Existing Shop" in page.text and account in page.text and "Create a new" in page.text
    # A new account is preselected: an existing one may be another merchant's.
    assert re.search(r'value="new" checked', page.text)
    assert not re.search(rf'value="{account}" checked', page.text)


def test_unknown_client_id_shows_error(sandbox):
    page = requests.get(
        f"{sandbox.base}/oauth/authorize",
        params={"response_type": "code", "client_id": "ca_wrong"},
        timeout=5,
    )
    assert page.status_code == 400 and "No such application" in page.text


def test_code_exchange_works_once_and_connects(sandbox, receiver):
    secret = (
        sandbox.client()
        .v1.webhook_endpoints.create(
            {
                "url": receiver.url,
                "connect": True,
                "enabled_events": ["account.application.deauthorized"],
            }
        )
        .secret
    )
    location, query = _choose(
        sandbox,
        _authorize_url(sandbox),
        account="new",
        business_name="Fresh <Shop>",
        email="f@example.com",
    )
    assert location.netloc == "portal.example" and query["state"] == "st-123"
    token = sandbox.client().oauth.token(
        {"grant_type": "authorization_code", "code": query["code"]}
    )
    assert token.livemode is True and token.scope == "read_write"
    assert token.token_type == "bearer" and token.access_token.startswith("sk_live_")
    assert token.stripe_publishable_key.startswith("pk_live_")
    account = sandbox.client().v1.accounts.retrieve(token.stripe_user_id)
    assert account.business_profile.name == "Fresh <Shop>"
    assert sandbox.client(token.access_token).v1.accounts.retrieve_current().id == account.id
    with pytest.raises(stripe.oauth_error.InvalidGrantError):
        sandbox.client().oauth.token({"grant_type": "authorization_code", "code": query["code"]})
    result = sandbox.client().oauth.deauthorize({"stripe_user_id": account.id})
    assert result.stripe_user_id == account.id
    assert sandbox.runtime.wait_idle(5)
    (event,) = receiver.of_type(secret, "account.application.deauthorized")
    assert event.account == account.id and event.data.object.id == "ca_sandbox_platform"
    with pytest.raises(stripe.PermissionError):
        sandbox.client().v1.accounts.retrieve_current(options={"stripe_account": account.id})


def test_choose_existing_account_and_deny(sandbox):
    existing, _ = sandbox.account("Picked")
    _, query = _choose(sandbox, _authorize_url(sandbox, "s2"), account=existing)
    token = sandbox.client("sk_test_sandbox_platform").oauth.token(
        {"grant_type": "authorization_code", "code": query["code"]}
    )
    assert token.stripe_user_id == existing and token.livemode is False
    _, denied = _choose(sandbox, _authorize_url(sandbox, "s3"), decision="deny")
    assert denied == {
        "error": "access_denied",
        "error_description": "The user denied your request",
        "state": "s3",
    }


def test_token_needs_platform_key(sandbox):
    response = requests.post(
        f"{sandbox.base}/oauth/token",
        data={"grant_type": "authorization_code", "code": "ac_x"},
        timeout=5,
    )
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    bad = requests.post(
        f"{sandbox.base}/oauth/token",
        headers={"Authorization": "Bearer sk_live_sandbox_platform"},
        data={"grant_type": "authorization_code", "code": "ac_unknown"},
        timeout=5,
    )
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"


def test_a_new_account_can_start_with_sample_products_in_its_shop(sandbox):
    _, query = _choose(
        sandbox,
        _authorize_url(sandbox),
        account="new",
        business_name="Sample Shop",
        sample_products="1",
    )
    token = sandbox.client().oauth.token(
        {"grant_type": "authorization_code", "code": query["code"]}
    )
    prices = sandbox.client(token.access_token).v1.prices.list({"limit": 10}).data
    assert sorted(p.unit_amount for p in prices) == [1900, 2800, 3400]
    shop = requests.get(f"{sandbox.base}/shop/{token.stripe_user_id}", timeout=5)
    assert "Linen tote bag" in shop.text and "Beeswax candle" in shop.text
