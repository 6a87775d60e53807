"""The gateway's clients over the SDK's HTTP client: kept-alive connections, retries and timeouts."""

from __future__ import annotations

import socket
import threading

import pytest
from stripe import APIConnectionError

from helpers import run_in_threads
from portal.services import stripe_gateway


def _unused_port() -> int:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        return unused.getsockname()[1]


def test_calls_share_one_kept_alive_connection(servers, stripe_at):
    server = servers()
    client = stripe_at(server.base)
    ids = [client.raw_request("get", "/v1/things", limit=3).data["id"] for _ in range(5)]
    assert ids == ["th_1", "th_2", "th_3", "th_4", "th_5"]
    assert server.connections == 1 and {s[0] for s in server.seen} == {1}
    assert server.seen[0][1:3] == ("GET", "/v1/things?limit=3")
    assert server.seen[0][3]["Authorization"] == "Bearer sk_live_transport"


def test_a_connection_the_server_dropped_is_replaced_and_the_call_made_once(servers, stripe_at):
    server = servers(close_after=1)
    client = stripe_at(server.base)
    for expected in ("th_1", "th_2", "th_3"):
        assert client.raw_request("post", "/v1/things", name="mug").data["id"] == expected
    assert [s[0] for s in server.seen] == [1, 2, 3]  # each call reached the server once
    assert all(s[4] == "name=mug" for s in server.seen)


def test_a_server_that_closes_every_connection_is_reconnected_to(servers, stripe_at):
    server = servers(keep_alive=False)  # the sandbox's werkzeug server does this
    client = stripe_at(server.base)
    ids = [client.raw_request("get", "/v1/things").data["id"] for _ in range(3)]
    assert ids == ["th_1", "th_2", "th_3"] and server.connections == 3


def test_threads_sharing_a_client_keep_their_own_connections(servers, stripe_at):
    server = servers()
    client = stripe_at(server.base)

    def calls(_):
        for _ in range(10):
            client.raw_request("get", "/v1/things")

    assert run_in_threads(calls, 4) == []
    assert len(server.seen) == 40 and server.connections == 4


def test_a_post_whose_answer_was_lost_is_sent_again_with_the_same_idempotency_key(
    servers, stripe_at
):
    server = servers(drop_first=1)
    answer = stripe_at(server.base).raw_request("post", "/v1/things", name="mug")
    assert answer.data["id"] == "th_2"
    keys = [s[3].get("Idempotency-Key") for s in server.seen]
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]


def test_a_refused_connection_is_a_retryable_connection_error(stripe_at):
    with pytest.raises(APIConnectionError) as refused:
        stripe_at(f"http://127.0.0.1:{_unused_port()}").raw_request("get", "/v1/things")
    assert refused.value.should_retry and "Connection refused" in str(refused.value)


def test_a_silent_server_times_out_and_is_tried_three_times(stripe_at, monkeypatch):
    monkeypatch.setattr(stripe_gateway, "TIMEOUT_SECONDS", 0.3)
    accepted = []
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers

        def accept():
            while len(accepted) < 3:
                accepted.append(silent.accept()[0])

        threading.Thread(target=accept, daemon=True).start()
        client = stripe_at(f"http://127.0.0.1:{silent.getsockname()[1]}")
        with pytest.raises(APIConnectionError) as timed_out:
            client.raw_request("get", "/v1/things")
    for connection in accepted:
        connection.close()
    assert timed_out.value.should_retry and "timed out" in str(timed_out.value)
    assert len(accepted) == 1 + stripe_gateway.NETWORK_RETRIES


def test_while_a_person_waits_a_silent_server_is_tried_once(app, stripe_at, monkeypatch):
    """A web request holds a server thread and a person: Stripe gets one short try."""
    monkeypatch.setattr(stripe_gateway, "INTERACTIVE_TIMEOUT_SECONDS", 0.3)
    accepted = []
    with socket.create_server(("127.0.0.1", 0)) as silent:

        def accept():
            while True:
                try:
                    accepted.append(silent.accept()[0])
                except OSError:  # closed at the end of the test
                    return

        threading.Thread(target=accept, daemon=True).start()
        base = f"http://127.0.0.1:{silent.getsockname()[1]}"
        stripe_at(base)  # a fresh transport for this API
        with app.test_request_context("/settings"):
            client = stripe_gateway.platform_client()
            with pytest.raises(APIConnectionError) as timed_out:
                client.raw_request("get", "/v1/things")
        for connection in accepted:
            connection.close()
    assert "timed out" in str(timed_out.value)
    assert len(accepted) == 1 + stripe_gateway.INTERACTIVE_RETRIES == 1
