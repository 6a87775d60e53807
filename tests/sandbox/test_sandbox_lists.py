"""Session list filters and Stripe's cursor pagination."""

from __future__ import annotations

import pytest
import requests
import stripe


@pytest.fixture
def shop(sandbox, kit):
    """Five sessions on one connected account, oldest first, with varied customers and states."""
    client = sandbox.client()
    account, _ = sandbox.account()
    price = kit.make_price(client, account).id
    sessions = [
        kit.make_session(client, account, price, customer="cus_A"),
        kit.make_session(client, account, price, customer_email="Bo@Example.com"),
        kit.make_session(client, account, price),
        kit.make_session(client, account, price, customer="cus_B"),
        kit.make_session(client, account, price),
    ]
    sandbox.post(f"/_sandbox/checkout/sessions/{sessions[1].id}/pay")
    sandbox.post(f"/_sandbox/checkout/sessions/{sessions[2].id}/shopper", email="bo@example.com")
    sandbox.post(f"/_sandbox/checkout/sessions/{sessions[2].id}/expire")
    return client, account, [s.id for s in sessions]


def _ids(client, account, **params):
    page = client.v1.checkout.sessions.list(params, options={"stripe_account": account})
    return [s.id for s in page.data], page.has_more


def test_newest_first_with_filters(shop):
    client, account, ids = shop
    assert _ids(client, account) == (ids[::-1], False)
    assert _ids(client, account, customer="cus_A") == ([ids[0]], False)
    assert _ids(client, account, customer_details={"email": "BO@example.com"}) == ([ids[1]], False)
    assert _ids(client, account, status="complete") == ([ids[1]], False)
    assert _ids(client, account, status="expired") == ([ids[2]], False)
    assert _ids(client, account, status="open") == ([ids[4], ids[3], ids[0]], False)
    assert _ids(client, account, payment_intent="pi_none") == ([], False)


def test_created_ranges(sandbox, shop):
    client, account, ids = shop
    options = {"stripe_account": account}
    created = client.v1.checkout.sessions.retrieve(ids[2], options=options).created
    later = _ids(client, account, created={"gt": created})[0]
    assert all(
        client.v1.checkout.sessions.retrieve(i, options=options).created > created for i in later
    )
    assert set(_ids(client, account, created={"gte": created, "lte": created})[0]) >= {ids[2]}
    sandbox.post("/_sandbox/clock/advance", seconds="3600")
    assert _ids(client, account, created={"gt": created + 1800})[0] == []
    assert len(_ids(client, account, created={"lt": created + 1800})[0]) == 5


def test_pagination_cursors(shop):
    client, account, ids = shop
    newest_first = ids[::-1]
    assert _ids(client, account, limit=2) == (newest_first[:2], True)
    assert _ids(client, account, limit=2, starting_after=newest_first[1]) == (
        newest_first[2:4],
        True,
    )
    assert _ids(client, account, limit=2, starting_after=newest_first[3]) == (
        newest_first[4:],
        False,
    )
    assert _ids(client, account, limit=2, ending_before=newest_first[4]) == (
        newest_first[2:4],
        True,
    )
    assert _ids(client, account, limit=10, ending_before=newest_first[1]) == (
        newest_first[:1],
        False,
    )


@pytest.mark.parametrize("limit", ["0", "101", "abc"])
def test_limit_bounds(sandbox, shop, limit):
    _, account, _ = shop
    response = requests.get(
        f"{sandbox.base}/v1/checkout/sessions",
        params={"limit": limit},
        headers={"Authorization": "Bearer sk_live_sandbox_platform", "Stripe-Account": account},
        timeout=5,
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "limit"


def test_accounts_are_isolated_and_modes_separate(sandbox, shop, kit):
    client, account, ids = shop
    other, keys = sandbox.account("Other")
    assert _ids(client, other) == ([], False)
    with pytest.raises(stripe.InvalidRequestError) as caught:
        client.v1.checkout.sessions.retrieve(ids[0], options={"stripe_account": other})
    assert caught.value.http_status == 404
    test_client = sandbox.client(keys["sk_test"])
    kit.make_session(test_client, other, kit.make_price(test_client, other).id)
    assert _ids(client, other) == ([], False)
    assert len(test_client.v1.checkout.sessions.list().data) == 1


def test_events_list_filters_by_type(sandbox, shop):
    client, account, ids = shop
    options = {"stripe_account": account}
    expired = client.v1.events.list({"type": "checkout.session.expired"}, options=options)
    assert [e.data.object.id for e in expired] == [ids[2]]
    every = client.v1.events.list({"type": "checkout.session.*"}, options=options)
    assert [e.type for e in every] == ["checkout.session.expired", "checkout.session.completed"]
    one = client.v1.events.retrieve(every.data[0].id, options=options)
    assert one.id == every.data[0].id and one.account == account
