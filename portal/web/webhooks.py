"""Stripe's webhook endpoints: verify, store, nudge the worker, answer. Never a 500 on input."""
from __future__ import annotations

import logging
import threading
import time

from flask import Blueprint, current_app, request
from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import RequestEntityTooLarge

from portal import jobs
from portal.extensions import csrf, rq
from portal.services import webhooks

log = logging.getLogger(__name__)
bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/stripe")
csrf.exempt(bp)  # Stripe signs its requests; there is no browser session to forge


@bp.post("/connect")
def connect():
    secrets = [s.strip() for s in current_app.config["STRIPE_CONNECT_WEBHOOK_SECRET"].split(",") if s.strip()]
    return _receive("connect", secrets)


@bp.post("/direct/<int:merchant_id>")
def direct(merchant_id: int):
    try:
        secrets = webhooks.direct_secret(merchant_id, current_app.config["ENCRYPTION_KEY"])
    except OperationalError:
        return _reply("database unavailable, retry later", 503)
    if not secrets:
        return _reply("no direct-mode Stripe connection for this merchant", 404)
    return _receive("direct", secrets, merchant_id)


def _receive(source: str, secrets: list[str], merchant_id: int | None = None):
    if not request.mimetype == "application/json":
        return _reply("Content-Type must be application/json", 400)
    request.max_content_length = webhooks.MAX_BODY_BYTES
    try:
        body = request.get_data(cache=False)
        event = webhooks.verify(body, request.headers.get("Stripe-Signature"), secrets)
    except RequestEntityTooLarge:
        return _reply(f"body is larger than {webhooks.MAX_BODY_BYTES} bytes", 400)
    except webhooks.WebhookRejected as exc:
        return _reply(str(exc), 400)
    try:
        is_new = webhooks.store(event, body.decode("utf-8"), source=source, merchant_id=merchant_id)
    except OperationalError:
        log.warning("webhook %s not stored: database unavailable", event["id"])
        return _reply("database unavailable, retry later", 503)
    if is_new and event["type"] in webhooks.HANDLED_TYPES:
        _nudge_worker()
    return _reply("stored" if is_new else "duplicate, already stored", 200)


NUDGE_PAUSE_SECONDS = 0.05


class _Nudger:
    """Asks Redis for a drain from a background thread, so no webhook waits on Redis; a burst
    of webhooks costs one request. The event is committed before the 200: if this process died
    before nudging, or Redis is away, the periodic sweep applies it. Nothing is lost."""

    def __init__(self) -> None:
        self.wanted = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def nudge(self, app) -> None:
        self.wanted.set()
        if self.thread is None or not self.thread.is_alive():
            with self.lock:  # one thread per process (gunicorn forks before the first request)
                if self.thread is None or not self.thread.is_alive():
                    self.thread = threading.Thread(target=self._run, args=(app,), daemon=True,
                                                   name="webhook-nudger")
                    self.thread.start()

    def _run(self, app) -> None:
        while self.wanted.wait():
            self.wanted.clear()
            try:
                with app.app_context():
                    jobs.request_drain(rq.connection, rq.queue("events"))
            except RedisError as exc:
                log.warning("could not enqueue event processing (the sweep will): %s", exc)
                time.sleep(1)  # do not spin while Redis is away
            # Under load, one nudge per pause stands for every webhook that arrived meanwhile.
            time.sleep(NUDGE_PAUSE_SECONDS)


_nudger = _Nudger()


def _nudge_worker() -> None:
    _nudger.nudge(current_app._get_current_object())


def _reply(message: str, status: int):
    return message + "\n", status, {"Content-Type": "text/plain; charset=utf-8"}
