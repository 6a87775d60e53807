"""Stripe's webhook endpoints: verify, store, nudge the worker, answer. Never a 500 on input.

They are a small WSGI app of their own, mounted beside Flask at /webhooks/stripe with werkzeug's
DispatcherMiddleware (web/__init__.py). Webhooks are the portal's one hot path (a platform's
Black Friday arrives here at once) and use nothing Flask adds to a request: no cookie session,
login, CSRF or templates. Skipping that machinery halves a webhook's cost.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus

from redis.exceptions import RedisError
from sqlalchemy.exc import OperationalError

from portal import jobs, nudger
from portal.extensions import rq
from portal.models import EventSource
from portal.services import webhooks

log = logging.getLogger(__name__)
MOUNT = "/webhooks/stripe"  # where web/__init__.py mounts the receiver; paths below are inside it
DIRECT_PATH = re.compile(r"/direct/(\d{1,18})\Z")


class Rejected(Exception):
    """Answer `status` with the one-line `message` and store nothing."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


class WebhookReceiver:
    """WSGI app for everything under MOUNT: `POST /connect` and `POST /direct/<merchant id>`."""

    def __init__(self, app):
        self.app = app  # the Flask app: its config, and app contexts for the database

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        headers = [("Content-Type", "text/plain; charset=utf-8")]
        try:
            status, message = 200, self._handle(environ, path)
        except (Rejected, webhooks.WebhookRejected) as exc:
            status, message = getattr(exc, "status", 400), str(exc)
            if status == 405:
                headers.append(("Allow", "POST"))
        except Exception:  # a bug, never bad input: logged with its traceback, no details out
            log.exception("webhook %s%s failed", MOUNT, path)
            status, message = 500, "internal error"
        body = (message + "\n").encode()
        headers.append(("Content-Length", str(len(body))))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [body]

    def _handle(self, environ, path: str) -> str:
        merchant_id = None
        if path == "/connect":
            source = EventSource.CONNECT
        elif match := DIRECT_PATH.match(path):
            source, merchant_id = EventSource.DIRECT, int(match.group(1))
        else:
            raise Rejected("no such webhook endpoint", 404)
        if environ.get("REQUEST_METHOD") != "POST":
            raise Rejected("webhooks are POSTed", 405)
        if _mimetype(environ) != "application/json":
            raise Rejected("Content-Type must be application/json")
        body = _read_body(environ)
        secrets = self._secrets(source, merchant_id)
        header = environ.get("HTTP_STRIPE_SIGNATURE")
        try:
            event = webhooks.verify(body, header, secrets)
        except webhooks.WebhookRejected as exc:
            if merchant_id is not None and header:  # signed, but not with the secret held
                self._note_refusal(merchant_id, str(exc), webhooks.claimed_event_id(body))
            raise
        return self._store(event, body, source, merchant_id)

    def _note_refusal(self, merchant_id: int, reason: str, event_id: str | None) -> None:
        """Have a worker keep the refusal for the merchant's Connect page once Stripe confirms
        it sent the event; the answer is 400 whatever comes of that."""
        if event_id is None:  # Stripe's events all have one: not a delivery of Stripe's
            return
        try:
            with self.app.app_context():
                jobs.enqueue_refusal_check(rq.connection, merchant_id, event_id, reason)
        except RedisError as exc:
            log.warning("direct webhook refusal for merchant %s not kept: %s", merchant_id, exc)

    def _secrets(self, source: str, merchant_id: int | None) -> list[str]:
        config = self.app.config
        if source == EventSource.CONNECT:
            return [
                s.strip() for s in config["STRIPE_CONNECT_WEBHOOK_SECRET"].split(",") if s.strip()
            ]
        try:
            with (
                self.app.app_context()
            ):  # the merchant's sealed secret is read through the session
                secrets = webhooks.direct_secret(merchant_id, config["ENCRYPTION_KEY"])
        except OperationalError as exc:
            raise Rejected("database unavailable, retry later", 503) from exc
        if not secrets:
            raise Rejected("no direct-mode Stripe connection for this merchant", 404)
        return secrets

    def _store(self, event: dict, body: bytes, source: str, merchant_id: int | None) -> str:
        try:
            is_new = webhooks.store(
                event, body.decode("utf-8"), source=source, merchant_id=merchant_id
            )
        except OperationalError as exc:
            log.warning("webhook %s not stored: database unavailable", event["id"])
            raise Rejected("database unavailable, retry later", 503) from exc
        if is_new and event["type"] in webhooks.HANDLED_TYPES:
            nudger.nudge(self.app)
        return "stored" if is_new else "duplicate, already stored"


def _mimetype(environ) -> str:
    return environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()


def _read_body(environ) -> bytes:
    """The whole body, refusing one over the limit before reading it where the length is known."""
    limit = webhooks.MAX_BODY_BYTES
    declared = environ.get("CONTENT_LENGTH") or ""
    if declared and not declared.isdigit():
        raise Rejected("Content-Length is not a number")
    if declared and int(declared) > limit:
        raise Rejected(f"body is larger than {limit} bytes")
    stream = environ["wsgi.input"]
    # Without a length (chunked) read one byte past the limit to tell a full body from a cut one.
    body = stream.read(int(declared)) if declared else stream.read(limit + 1)
    if len(body) > limit:
        raise Rejected(f"body is larger than {limit} bytes")
    return body
