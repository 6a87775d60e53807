"""Bad input gets Stripe's error shape and a 4xx, never a 500."""

from __future__ import annotations

import pytest
import requests
import stripe

AUTH = {"Authorization": "Bearer sk_live_sandbox_platform"}


@pytest.fixture
def ctx(sandbox, kit):
    account, _ = sandbox.account()
    price = kit.make_price(sandbox.client(), account).id
    return sandbox.base, {**AUTH, "Stripe-Account": account}, price


def _error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["type"] in ("invalid_request_error", "api_error") and error["message"]
    return error


def _create(base, headers, **data):
    return requests.post(
        f"{base}/v1/checkout/sessions",
        headers=headers,
        data={"mode": "payment", **data},
        timeout=5,
    )


def test_missing_line_items(ctx):
    base, headers, _ = ctx
    assert _error(_create(base, headers), 400)["param"] == "line_items"


@pytest.mark.parametrize("offset", [60, 25 * 3600, "soon"])
def test_bad_expires_at(sandbox, ctx, offset):
    base, headers, price = ctx
    now = requests.get(f"{base}/_sandbox/clock", timeout=5).json()["now"]
    value = offset if isinstance(offset, str) else str(now + offset)
    response = _create(
        base,
        headers,
        **{"line_items[0][price]": price, "line_items[0][quantity]": "1", "expires_at": value},
    )
    assert _error(response, 400)["param"] == "expires_at"


def test_expires_at_bounds_are_accepted(ctx):
    base, headers, price = ctx
    now = requests.get(f"{base}/_sandbox/clock", timeout=5).json()["now"]
    response = _create(
        base,
        headers,
        **{
            "line_items[0][price]": price,
            "line_items[0][quantity]": "1",
            "expires_at": str(now + 1800 + 5),
        },
    )
    assert response.status_code == 200 and response.json()["expires_at"] == now + 1805


def test_expiring_a_non_open_session(sandbox, kit):
    account, _ = sandbox.account()
    client = sandbox.client()
    session = kit.make_session(client, account, kit.make_price(client, account).id)
    client.v1.checkout.sessions.expire(session.id, options={"stripe_account": account})
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.expire(session.id, options={"stripe_account": account})
    assert caught.value.http_status == 400 and "expired" in caught.value.user_message


@pytest.mark.parametrize(
    "path, message",
    [
        ("/v1/checkout/sessions/cs_live_nope", "No such checkout.session: 'cs_live_nope'"),
        ("/v1/checkout/sessions/cs_live_nope/line_items", "No such checkout.session"),
        ("/v1/prices/price_nope", "No such price"),
        ("/v1/accounts/acct_nope", "No such account"),
        ("/v1/events/evt_nope", "No such event"),
    ],
)
def test_unknown_ids(ctx, path, message):
    base, headers, _ = ctx
    assert message in _error(requests.get(base + path, headers=headers, timeout=5), 404)["message"]


def test_unknown_price_in_line_items(ctx):
    base, headers, _ = ctx
    response = _create(
        base, headers, **{"line_items[0][price]": "price_nope", "line_items[0][quantity]": "1"}
    )
    assert _error(response, 404)["param"] == "line_items[0][price]"


@pytest.mark.parametrize(
    "headers, status",
    [
        ({}, 401),
        ({"Authorization": "Bearer sk_live_wrong"}, 401),
        (
            {"Authorization": "Bearer sk_live_sandbox_platform", "Stripe-Account": "acct_unknown"},
            403,
        ),
    ],
)
def test_bad_keys(sandbox, headers, status):
    _error(
        requests.get(f"{sandbox.base}/v1/checkout/sessions", headers=headers, timeout=5), status
    )


@pytest.mark.parametrize(
    "data",
    [
        {"line_items[0][price": "x"},
        {"line_items]": "x"},
        {"line_items": "x", "line_items[0][price]": "y"},
        {"line_items[0][price]": "p", "line_items[0][quantity]": "many"},
        {"line_items[0][price]": "p", "line_items[0][quantity]": "0"},
        {"line_items[0][price]": "p", "line_items[0][quantity]": "1", "bogus": "1"},
        {"line_items[0][price][x]": "p", "line_items[0][quantity]": "1"},
        {"line_items": "notalist"},
        {"after_expiration[recovery][enabled]": "maybe"},
    ],
)
def test_malformed_params(ctx, data):
    base, headers, price = ctx
    data = {k: (price if v == "p" else v) for k, v in data.items()}
    assert 400 <= _create(base, headers, **data).status_code < 500


def test_unknown_route_and_bad_sandbox_action(sandbox):
    _error(requests.get(f"{sandbox.base}/v1/nothing", headers=AUTH, timeout=5), 404)
    _error(sandbox.post("/_sandbox/checkout/sessions/cs_x/pay"), 404)
    _error(sandbox.post("/_sandbox/clock/advance", seconds="-5"), 400)


def test_paying_needs_an_email_and_an_open_session(sandbox, kit):
    account, _ = sandbox.account()
    client = sandbox.client()
    session = kit.make_session(client, account, kit.make_price(client, account).id)
    _error(sandbox.post(f"/_sandbox/checkout/sessions/{session.id}/pay"), 400)
    _error(sandbox.post(f"/_sandbox/checkout/sessions/{session.id}/shopper", email="nope"), 400)
    assert (
        sandbox.post(
            f"/_sandbox/checkout/sessions/{session.id}/pay", email="a@example.com"
        ).status_code
        == 200
    )
    _error(sandbox.post(f"/_sandbox/checkout/sessions/{session.id}/pay"), 400)
    _error(
        sandbox.post(
            f"/_sandbox/checkout/sessions/{session.id}/async_payment", result="succeeded"
        ),
        400,
    )
