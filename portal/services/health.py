"""Liveness checks of the parts the portal cannot work without."""

from __future__ import annotations

from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError


def check_database(engine: Engine) -> str | None:
    """None when a trivial query succeeds; otherwise the reason, one line."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return f"{type(exc.orig or exc).__name__}: {str(exc.orig or exc).splitlines()[0]}"
    return None


def check_redis(connection: Redis) -> str | None:
    """None when Redis answers PING; otherwise the reason, one line."""
    try:
        connection.ping()
    except RedisError as exc:
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no answer'}"
    return None
