"""Extensions, created unbound at import and bound to an app in create_app()."""

from __future__ import annotations

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.session_protection = "strong"

csrf = CSRFProtect()

# Highest priority first: a worker drains webhooks before mail before everything else.
QUEUE_NAMES = ("events", "mail", "default")


def connect_redis(url: str) -> Redis:
    """A Redis client that fails fast: a webhook must not wait seconds on a Redis outage (the
    event is already stored; the sweep applies it). One immediate retry survives a stale socket."""
    return Redis.from_url(
        url, socket_connect_timeout=1, socket_timeout=5, retry=Retry(NoBackoff(), 1)
    )


class RedisQueues:
    """The Redis connection and the RQ queues. Connects lazily: binding does no network I/O."""

    def __init__(self) -> None:
        self.connection: Redis | None = None

    def init_app(self, app) -> None:
        self.connection = connect_redis(app.config["REDIS_URL"])
        app.extensions["redis_queues"] = self

    def queue(self, name: str = "default") -> Queue:
        if name not in QUEUE_NAMES:
            raise ValueError(f"unknown queue {name!r}; known: {', '.join(QUEUE_NAMES)}")
        return Queue(name, connection=self.connection)

    def all_queues(self) -> list[Queue]:
        return [self.queue(name) for name in QUEUE_NAMES]


rq = RedisQueues()
