"""`--latency-ms N`: each /v1/ API call is answered at least N ms late; pages are not delayed."""

from __future__ import annotations

import time

import pytest
import requests

from stripe_sandbox.__main__ import app_config, parse_args


def _timed(call, *args, **kwargs):
    """(what `call(*args, **kwargs)` returned, the seconds it took)."""
    started = time.perf_counter()
    result = call(*args, **kwargs)
    return result, time.perf_counter() - started


def test_the_command_line_sets_the_latency():
    assert app_config(parse_args(["--latency-ms", "150"]))["API_LATENCY_MS"] == 150
    assert app_config(parse_args([]))["API_LATENCY_MS"] == 0
    with pytest.raises(SystemExit):
        parse_args(["--latency-ms", "-1"])


def test_api_calls_take_at_least_the_latency_and_pages_do_not_wait(start_sandbox):
    sandbox = start_sandbox(API_LATENCY_MS=500)
    client = sandbox.client()
    account, seconds = _timed(client.v1.accounts.create, {"type": "standard"})
    assert seconds >= 0.5
    assert _timed(client.v1.accounts.retrieve, account.id)[1] >= 0.5
    page = f"{sandbox.base}/_sandbox/accounts/{account.id}?format=json"
    answer, seconds = _timed(requests.get, page, timeout=5)
    assert answer.status_code == 200 and seconds < 0.5
