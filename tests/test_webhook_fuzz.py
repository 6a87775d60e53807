"""Hostile and malformed webhook requests: never a 500, never a stored event unless valid.
A seeded, bounded fuzzer (loopback test client only): the seed is printed on failure."""
from __future__ import annotations

import json
import random
import time

import pytest
from sqlalchemy import func, select

import stripe_events as se
from factories import make_connected
from portal.extensions import rq
from portal.models import EventStatus, StripeEvent
from portal.services import events

ROUNDS = 250
JUNK = [None, True, 0, -1, 10**30, 1.5, "", "x" * 300, "\u0000\r\n", [], {}, [1, "a"], {"id": 5}]


def _mutate_header(header: str, rng: random.Random) -> str:
    choices = [
        lambda h: h.replace("v1=", "v0="), lambda h: h.replace("t=", "T="),
        lambda h: h.split(",v1=")[0] + ",v1=" + "0" * 64, lambda h: h[: rng.randrange(len(h))],
        lambda h: "t=abc,v1=" + h.split("v1=")[1], lambda h: h.replace(",", ";"),
        lambda h: "t=" + str(int(time.time()) + 10**6) + "," + h.split(",", 1)[1], lambda h: "",
    ]
    return rng.choice(choices)(header)


def _mutate_body(body: str, rng: random.Random) -> str:
    choices = [
        lambda b: b[: rng.randrange(len(b))], lambda b: b.replace('"', "'", 3),
        lambda b: b + rng.choice(["}", "]", ",", "\\"]), lambda b: "[" + b + "]",
        lambda b: b.replace("checkout", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")),
    ]
    return rng.choice(choices)(body)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_bad_signatures_and_bodies_never_500_and_store_nothing(client, db, seed):
    rng = random.Random(seed)
    for round_ in range(ROUNDS):
        body = json.dumps(se.expired(f"cs_live_{round_}", "acct_1"))
        header = se.sign(body)
        if rng.random() < 0.5:
            header = _mutate_header(header, rng)
            if header == se.sign(body):
                continue
        else:
            tampered = _mutate_body(body, rng)
            body, header = tampered, header  # signed for the original, sent with another body
        response = client.post("/webhooks/stripe/connect", data=body.encode("utf-8", "surrogatepass"),
                               headers={"Content-Type": "application/json", "Stripe-Signature": header})
        assert response.status_code in (400,), (seed, round_, header, body[:80], response.status_code)
    assert db.scalar(select(func.count()).select_from(StripeEvent)) == 0


def _hostile_object(rng: random.Random, round_: int) -> dict:
    obj = se.expired(f"cs_live_h{round_}", "acct_1ExampleMerchant01")["data"]["object"]
    for _ in range(rng.randint(1, 4)):
        key = rng.choice(sorted(obj))
        obj[key] = rng.choice(JUNK)
    return obj


@pytest.mark.parametrize("seed", [7, 8])
def test_validly_signed_hostile_events_never_500_and_never_corrupt(client, db, redis_conn, monkeypatch, seed):
    """A signed event with junk fields is stored (Stripe signed it) but applying it either works
    or fails cleanly into retries: other events still apply, nothing crashes."""
    monkeypatch.setattr(rq, "connection", redis_conn)
    make_connected("acct_1ExampleMerchant01")
    rng = random.Random(seed)
    for round_ in range(60):
        event = se.expired(f"cs_live_h{round_}", "acct_1ExampleMerchant01")
        event["data"]["object"] = _hostile_object(rng, round_)
        assert se.post(client, event).status_code == 200
    good = se.expired("cs_live_good", "acct_1ExampleMerchant01")
    assert se.post(client, good).status_code == 200
    events.drain()
    statuses = dict(db.execute(select(StripeEvent.event_id, StripeEvent.status)).all())
    assert statuses[good["id"]] == EventStatus.PROCESSED
    assert set(statuses.values()) <= {EventStatus.PROCESSED, EventStatus.PENDING}
