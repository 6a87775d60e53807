"""The client side of bench/ingest.py: signed Connect events as raw HTTP/1.1 requests, fired
by an asyncio client over keep-alive connections, and what each request got back.

Not a benchmark itself (`make bench` skips the `_` files): ingest.py uses it.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field

import _common as common

PATH = "/webhooks/stripe/connect"
REQUEST_TIMEOUT = 10.0  # seconds without an answer: the request counts as unanswered


@dataclass
class Outcome:
    """What one phase of requests got back: a status per request (None: no answer)."""

    statuses: list
    latencies: list = field(default_factory=list)  # seconds, answered requests only
    seconds: float = 0.0
    connections: int = 0

    @property
    def rps(self) -> float:
        return len(self.statuses) / self.seconds if self.seconds else 0.0

    def ms(self, pct: float) -> float:
        return round(common.percentile(sorted(self.latencies), pct) * 1000, 2)


def build_bodies(prefix: str, count: int, merchant_tag: str) -> list[tuple[str, str]]:
    """`count` (event id, JSON body) pairs of distinct expired sessions, pretty-printed like Stripe."""
    now = int(time.time())
    bodies = []
    for i in range(count):
        event_id = f"evt_{prefix}_{merchant_tag}_{i:07d}"
        event = common.expired_event(
            event_id,
            f"cs_live_{prefix}_{merchant_tag}_{i:07d}",
            f"shopper{i % 2500}@example.com",
            now - 30,
        )
        bodies.append((event_id, json.dumps(event, indent=2)))
    return bodies


def sign_requests(bodies: list[tuple[str, str]], port: int) -> list[bytes]:
    """Raw HTTP/1.1 requests, each signed now (Stripe's tolerance is 300 s)."""
    now = int(time.time())
    requests = []
    for _event_id, body in bodies:
        data = body.encode()
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            "User-Agent: Stripe/1.0 (+https://stripe.com/docs/webhooks)\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            f"Stripe-Signature: {common.sign(body, timestamp=now)}\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        requests.append(head.encode() + data)
    return requests


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; its status and whether the connection stays open."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status, length, keep = int(lines[0].split()[1]), 0, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            keep = value.strip().lower() != b"close"
    if length:
        await reader.readexactly(length)
    return status, keep


async def connection_loop(port: int, requests: list[bytes], todo, outcome: Outcome) -> None:
    """Send requests taken from the shared iterator `todo` one after another on one
    connection, reconnecting when the server closes it (sync workers always do)."""
    reader = writer = None
    for index in todo:
        started = time.perf_counter()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                outcome.connections += 1
            writer.write(requests[index])
            status, keep = await asyncio.wait_for(read_response(reader), REQUEST_TIMEOUT)
        except (
            OSError,
            asyncio.IncompleteReadError,
            asyncio.TimeoutError,
            ValueError,
            IndexError,
        ):
            status, keep = None, False
        else:
            outcome.latencies.append(time.perf_counter() - started)
        outcome.statuses[index] = status
        if not keep and writer is not None:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def fire(port: int, requests: list[bytes], concurrency: int) -> Outcome:
    """Send every request over `concurrency` connections; the wall time covers all of them."""
    outcome = Outcome(statuses=[None] * len(requests))
    todo = iter(range(len(requests)))  # shared: each connection takes the next request
    started = time.perf_counter()
    await asyncio.gather(
        *(connection_loop(port, requests, todo, outcome) for _ in range(concurrency))
    )
    outcome.seconds = time.perf_counter() - started
    return outcome


def pooled(outcomes: list[Outcome]) -> Outcome:
    """Every round's requests as one outcome (for latencies and losses; rates stay per round)."""
    return Outcome(
        statuses=[s for o in outcomes for s in o.statuses],
        latencies=[x for o in outcomes for x in o.latencies],
        seconds=sum(o.seconds for o in outcomes),
        connections=sum(o.connections for o in outcomes),
    )
