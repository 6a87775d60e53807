"""Extensions, created unbound at import and bound to an app in create_app()."""
from __future__ import annotations

from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from redis import Redis
from rq import Queue

login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "Please log in to see that page."
login_manager.session_protection = "strong"

csrf = CSRFProtect()

# Highest priority first: a worker drains webhooks before mail before everything else.
QUEUE_NAMES = ("events", "mail", "default")


class RedisQueues:
    """The Redis connection and the RQ queues. Connects lazily: binding does no network I/O."""

    def __init__(self) -> None:
        self.connection: Redis | None = None

    def init_app(self, app) -> None:
        self.connection = Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
        )
        app.extensions["redis_queues"] = self

    def queue(self, name: str = "default") -> Queue:
        if name not in QUEUE_NAMES:
            raise ValueError(f"unknown queue {name!r}; known: {', '.join(QUEUE_NAMES)}")
        return Queue(name, connection=self.connection)

    def all_queues(self) -> list[Queue]:
        return [self.queue(name) for name in QUEUE_NAMES]


rq = RedisQueues()
