"""The bracket parser, page escaping, the CLI, and a small no-500 sweep."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from stripe_sandbox import create_app
from stripe_sandbox.errors import StripeError
from stripe_sandbox.params import parse_pairs


def test_parser_builds_nested_lists_and_dicts():
    parsed = parse_pairs(
        [
            ("line_items[1][price]", "p2"),
            ("line_items[0][price]", "p1"),
            ("line_items[0][quantity]", "2"),
            ("after_expiration[recovery][enabled]", "true"),
            ("expand[]", "a"),
            ("expand[]", "b"),
            ("created[gt]", "5"),
            ("mode", "payment"),
        ]
    )
    assert parsed == {
        "line_items": [{"price": "p1", "quantity": "2"}, {"price": "p2"}],
        "after_expiration": {"recovery": {"enabled": "true"}},
        "expand": ["a", "b"],
        "created": {"gt": "5"},
        "mode": "payment",
    }


@pytest.mark.parametrize(
    "pairs",
    [
        [("a[b", "1")],
        [("a]", "1")],
        [("a[b]c", "1")],
        [("", "1")],
        [("a", "1"), ("a[b]", "2")],
        [("a[b]", "1"), ("a", "2")],
    ],
)
def test_parser_rejects_malformed_keys(pairs):
    with pytest.raises(StripeError) as caught:
        parse_pairs(pairs)
    assert caught.value.status == 400


def test_pages_escape_merchant_and_product_names(sandbox, kit):
    client = sandbox.client()
    account, _ = sandbox.account("<b>Evil</b> & Co")
    session = kit.make_session(
        client, account, kit.make_price(client, account, name="<script>x</script>").id
    )
    page = requests.get(session.url, timeout=5).text
    assert "<script>x</script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "<b>Evil</b>" not in page


def test_create_app_does_no_io_and_keeps_state_apart():
    first, second = create_app(), create_app({"PUBLIC_URL": "http://x.test"})
    headers = {"Authorization": "Bearer sk_live_sandbox_platform"}
    first.test_client().post("/v1/accounts", data={"type": "standard"}, headers=headers)
    assert len(first.extensions["sandbox"].store.accounts()) == 1
    assert second.extensions["sandbox"].store.accounts() == []
    for app in (first, second):
        app.extensions["sandbox"].stop()


def test_cli_serves_and_prints_keys():
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "stripe_sandbox", "--port", "0"],
        cwd=root,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        lines = [process.stdout.readline() for _ in range(4)]
    finally:
        process.terminate()
        process.wait(5)
    assert lines[0].startswith("Stripe sandbox listening on http://127.0.0.1:")
    assert not lines[0].rstrip().endswith(":0")
    assert "sk_live_sandbox_platform" in lines[1] and "ca_sandbox_platform" in lines[3]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/checkout/sessions",
        "/v1/prices",
        "/v1/coupons",
        "/v1/promotion_codes",
        "/v1/webhook_endpoints",
        "/v1/accounts",
        "/v1/products",
    ],
)
@pytest.mark.parametrize(
    "data",
    [
        {},
        {"x[": "1"},
        {"metadata": "x", "metadata[a]": "b"},
        {"limit": "1e9"},
        {"expand[0]": "nope"},
        {"line_items[0][price_data][unit_amount]": "-1"},
        {"percent_off": "NaN"},
        {"url": "ftp://x"},
        {"enabled_events[0][x]": "y"},
        {"business_profile": "x"},
    ],
)
def test_no_input_gives_a_500(path, data):
    app = create_app()
    headers = {"Authorization": "Bearer sk_live_sandbox_platform"}
    client = app.test_client()
    try:
        for method in (client.post, client.get):
            response = method(
                path,
                data=data if method is client.post else None,
                query_string=None if method is client.post else data,
                headers=headers,
            )
            assert response.status_code < 500, response.json
    finally:
        app.extensions["sandbox"].stop()
