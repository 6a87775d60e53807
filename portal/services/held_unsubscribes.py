"""Unsubscribes that arrived while the database could not be reached, held in Redis until it
can. A mail app's one-click unsubscribe (RFC 8058) is posted once and never again: answering
it 503 would lose it. The token is signed, so holding it needs no database; it is applied later
at the moment it was made, so a newer answer from the shopper still wins."""

from __future__ import annotations

import contextlib
import json
import logging
from datetime import datetime

from redis import Redis
from redis.exceptions import LockError
from redis.lock import Lock
from sqlalchemy.exc import OperationalError

from portal import db
from portal.models import ConsentSource
from portal.services import addresses, links, shopper

log = logging.getLogger(__name__)
KEY = "portal:unsubscribes:held"
SOURCES = ConsentSource.shoppers_own()
LOCK_SECONDS = 120  # far above one item's work; a crashed sweep's lock frees itself in time


def hold(connection: Redis, token: str, source: str, at: datetime) -> None:
    """Keep an unsubscribe for later (raises RedisError when Redis cannot take it either)."""
    connection.rpush(KEY, json.dumps({"token": token, "source": source, "at": at.isoformat()}))


def apply_held(connection: Redis, limit: int = 500) -> int:
    """Apply the held unsubscribes, oldest first, each committed before it leaves Redis, so a
    crash repeats at most one (a repeat adds nothing: shopper.unsubscribe). Returns how many
    were taken; one that names nothing we know any more is dropped. Should the database be
    away again, the rest wait for the next sweep; one that fails otherwise is set aside (under
    KEY:failed, logged) rather than holding up the others and the sweep for good.

    One sweep at a time: a sweep that overlaps a slow one takes nothing (each item is read and
    then popped, and a second reader would pop an item it never applied)."""
    lock = connection.lock(f"{KEY}:sweep", timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        return 0
    try:
        return _sweep(connection, lock, limit)
    finally:
        with contextlib.suppress(LockError):  # expired meanwhile: nothing left to release
            lock.release()


def _sweep(connection: Redis, lock: Lock, limit: int) -> int:
    taken = 0
    while taken < limit:
        raw = connection.lindex(KEY, 0)
        if raw is None:
            break
        try:
            _apply(raw)
        except OperationalError:
            db.session.rollback()
            break
        except Exception:  # a poison item must not stop the others, nor the sweep
            db.session.rollback()
            log.exception("a held unsubscribe could not be applied; kept under %s:failed", KEY)
            connection.rpush(f"{KEY}:failed", raw)
        connection.lpop(KEY)
        taken += 1
        lock.reacquire()  # still ours for another LOCK_SECONDS (LockError when lost: stop)
    return taken


def _apply(raw: bytes | str) -> None:
    try:
        item = json.loads(raw)
        at, source = datetime.fromisoformat(item["at"]), item["source"]
        token = links.read_unsubscribe(item["token"])
    except (ValueError, KeyError, TypeError):
        return
    target = shopper.unsubscribe_target(token) if token and source in SOURCES else None
    if target is None:
        return
    merchant, email = target
    if email.startswith(addresses.ERASED_PREFIX):  # erased meanwhile: never emailed anyway
        return
    shopper.unsubscribe_and_stop(merchant.id, email, source, at)
