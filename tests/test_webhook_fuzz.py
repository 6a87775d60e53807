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
from portal.services import events, webhooks

ROUNDS = 250
JUNK = [None, True, 0, -1, 10**30, 1.5, "", "x" * 300, "\u0000\r\n", [], {}, [1, "a"], {"id": 5}]


def _mutate_header(header: str, rng: random.Random) -> str:
    choices = [
        lambda h: h.replace("v1=", "v0="),
        lambda h: h.replace("t=", "T="),
        lambda h: h.split(",v1=")[0] + ",v1=" + "0" * 64,
        lambda h: h[: rng.randrange(len(h))],
        lambda h: "t=abc,v1=" + h.split("v1=")[1],
        lambda h: h.replace(",", ";"),
        lambda h: "t=" + str(int(time.time()) + 10**6) + "," + h.split(",", 1)[1],
        lambda h: "",
    ]
    return rng.choice(choices)(header)


def _mutate_body(body: str, rng: random.Random) -> str:
    choices = [
        lambda b: b[: rng.randrange(len(b))],
        lambda b: b.replace('"', "'", 3),
        lambda b: b + rng.choice(["}", "]", ",", "\\"]),
        lambda b: "[" + b + "]",
        lambda b: b.replace(
            "checkout", "\ud800".encode("utf-8", "surrogatepass").decode("latin-1")
        ),
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
        response = client.post(
            "/webhooks/stripe/connect",
            data=body.encode("utf-8", "surrogatepass"),
            headers={"Content-Type": "application/json", "Stripe-Signature": header},
        )
        assert response.status_code in (400,), (
            seed,
            round_,
            header,
            body[:80],
            response.status_code,
        )
    assert db.scalar(select(func.count()).select_from(StripeEvent)) == 0


def _event_with(**fields) -> str:
    event = se.expired("cs_live_A", "acct_1")
    event.update(fields)
    return json.dumps(event)


@pytest.mark.parametrize(
    "body, reason",
    [
        ("[" * 60_000 + "]" * 60_000, "body is nested too deeply"),
        (
            _event_with(deep="DEEP").replace('"DEEP"', "[" * 50_000 + "]" * 50_000),
            "body is nested too deeply",
        ),
        (_event_with(id="evt_\u0000"), "event field 'id' contains a NUL or an unpaired surrogate"),
        (_event_with(type="checkout.session.expired\u0000"), "event field 'type' contains a NUL"),
        (_event_with(account="acct_\u0000"), "event field 'account' contains a NUL"),
        (_event_with(id="evt_\ud800"), "event field 'id' contains a NUL or an unpaired surrogate"),
        (_event_with(type="\udfff"), "event field 'type' contains a NUL or an unpaired surrogate"),
        (
            _event_with(account="acct_\ud800x"),
            "event field 'account' contains a NUL or an unpaired surrogate",
        ),
        (_event_with(created=10**20), "event field 'created' is not a Unix time"),
        (_event_with(created=2**63), "event field 'created' is not a Unix time"),
        (_event_with(created=253402300800), "event field 'created' is not a Unix time"),
        (_event_with(created=-1), "event field 'created' is not a Unix time"),
        (_event_with(created=-(10**20)), "event field 'created' is not a Unix time"),
        (_event_with(id=""), "event field 'id' is empty"),
    ],
)
def test_signed_events_the_portal_cannot_store_get_400_and_store_nothing(client, db, body, reason):
    response = se.post(client, body)
    assert response.status_code == 400, response.get_data(as_text=True)
    text = response.get_data(as_text=True)
    assert reason in text and text.count("\n") == 1
    assert db.scalar(select(func.count()).select_from(StripeEvent)) == 0


def test_the_last_second_a_datetime_holds_is_still_a_valid_created(client, db):
    assert se.post(client, _event_with(created=253402300799)).status_code == 200
    assert db.scalar(select(StripeEvent.created_at)).year == 9999


# What a signed event may carry in the fields stored in columns of their own, beyond JUNK.
STORED_FIELD_JUNK = JUNK + [
    "\ud800",
    "evt_\u0000",
    "\udfffacct",
    2**31,
    2**63,
    -1,
    253402300800,
    -(10**20),
    "x" * 256,
    "1" * 70,
]


def _junk_in_stored_fields(event: dict, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 3)):
        event[rng.choice(["id", "type", "account", "created", "livemode"])] = rng.choice(
            STORED_FIELD_JUNK
        )
    body = json.dumps(event)
    if rng.random() < 0.1:  # a signed body nested deeper than the parser recurses
        body = body[:-1] + ', "deep": ' + "[" * 50_000 + "]" * 50_000 + "}"
    return body


@pytest.mark.parametrize("seed", [4, 5, 6])
def test_signed_events_with_junk_in_stored_fields_get_200_or_400_never_500(client, db, seed):
    """Signed by the right secret, but with fields no column (or no datetime) holds: refused
    with a reason, or stored; a refused event leaves nothing behind."""
    rng, stored = random.Random(seed), 0
    for round_ in range(ROUNDS // 2):
        body = _junk_in_stored_fields(se.expired(f"cs_live_j{round_}", "acct_1"), rng)
        response = se.post(client, body)
        assert response.status_code in (200, 400), (seed, round_, body[:200], response.status_code)
        stored += response.get_data(as_text=True) == "stored\n"
    assert db.scalar(select(func.count()).select_from(StripeEvent)) == stored


def _hostile_object(rng: random.Random, round_: int) -> dict:
    obj = se.expired(f"cs_live_h{round_}", "acct_1ExampleMerchant01")["data"]["object"]
    for _ in range(rng.randint(1, 4)):
        key = rng.choice(sorted(obj))
        obj[key] = rng.choice(JUNK)
    return obj


@pytest.mark.parametrize("seed", [7, 8])
def test_validly_signed_hostile_events_never_500_and_never_corrupt(
    client, db, redis_conn, monkeypatch, seed
):
    """A signed event with junk in its session is refused with a reason, or stored; applying
    a stored one (or one an older portal stored without refusing it) either works or fails
    cleanly into retries: other events still apply, nothing crashes."""
    monkeypatch.setattr(rq, "connection", redis_conn)
    make_connected("acct_1ExampleMerchant01")
    rng = random.Random(seed)
    for round_ in range(60):
        event = se.expired(f"cs_live_h{round_}", "acct_1ExampleMerchant01")
        event["data"]["object"] = _hostile_object(rng, round_)
        answer = se.post(client, event)
        assert answer.status_code in (200, 400), answer.text
        if answer.status_code == 400:
            assert answer.text.startswith("malformed checkout.session")
            webhooks.store(event, json.dumps(event), source="connect")
            db.commit()
    good = se.expired("cs_live_good", "acct_1ExampleMerchant01")
    assert se.post(client, good).status_code == 200
    events.drain()
    statuses = dict(db.execute(select(StripeEvent.event_id, StripeEvent.status)).all())
    assert statuses[good["id"]] == EventStatus.PROCESSED
    assert set(statuses.values()) <= {EventStatus.PROCESSED, EventStatus.PENDING}
