"""Signed webhook delivery from a background thread, with Stripe-like retries."""

from __future__ import annotations

import hashlib
import heapq
import hmac
import http.client
import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

from .state import new_id


def signature_header(body: str, secret: str, timestamp: int | None = None) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` exactly as Stripe signs."""
    stamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


@dataclass
class Delivery:
    """One event on its way to one endpoint, with every attempt made so far."""

    event_id: str
    event_type: str
    endpoint_id: str
    url: str
    secret: str
    body: str
    id: str = field(default_factory=lambda: new_id("wd_"))
    status: str = "pending"
    attempts: list = field(default_factory=list)

    def summary(self) -> dict:
        """A JSON-friendly view for the debugging page (no secret)."""
        return {
            "id": self.id,
            "event": self.event_id,
            "type": self.event_type,
            "endpoint": self.endpoint_id,
            "url": self.url,
            "status": self.status,
            "attempts": list(self.attempts),
        }


def post_once(
    url: str, body: str, signature: str, timeout: float
) -> tuple[int | None, str | None]:
    """POST the body once; (status, None) on an answer, (None, reason) when no answer came."""
    parts = urlsplit(url)
    connection_class = (
        http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection = connection_class(parts.hostname, parts.port, timeout=timeout)
        try:
            connection.request(
                "POST",
                path,
                body=body.encode(),
                headers={
                    "Content-Type": "application/json; charset=utf-8",
                    "Stripe-Signature": signature,
                    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                },
            )
            response = connection.getresponse()
            response.read()
            return response.status, None
        finally:
            connection.close()
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


class Dispatcher:
    """A daemon thread that sends queued deliveries and retries failures on a schedule."""

    def __init__(
        self,
        delays: list[float],
        timeout: float,
        on_delivered: Callable[[str], None] = lambda event_id: None,
    ):
        self.delays, self.timeout, self.on_delivered = list(delays), timeout, on_delivered
        self.deliveries: list[Delivery] = []
        self._cond = threading.Condition()
        self._queue: list = []
        self._order = itertools.count()
        self._busy = 0
        self._stopping = False
        self._thread: threading.Thread | None = None

    def enqueue(self, delivery: Delivery) -> None:
        """Queue a first attempt now; the thread starts on first use."""
        with self._cond:
            self.deliveries.append(delivery)
            self._push(delivery, time.monotonic())
            self._start()

    def _push(self, delivery: Delivery, due: float) -> None:
        heapq.heappush(self._queue, (due, next(self._order), delivery))
        self._cond.notify_all()

    def _start(self) -> None:
        if self._thread is None and not self._stopping:
            self._thread = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
            self._thread.start()

    def _next_due(self) -> Delivery | None:
        with self._cond:
            while not self._stopping:
                if self._queue and self._queue[0][0] <= time.monotonic():
                    self._busy += 1
                    return heapq.heappop(self._queue)[2]
                wait = self._queue[0][0] - time.monotonic() if self._queue else None
                self._cond.wait(wait)
            return None

    def _run(self) -> None:
        while (delivery := self._next_due()) is not None:
            try:
                self._attempt(delivery)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def _attempt(self, delivery: Delivery) -> None:
        status, error = post_once(
            delivery.url,
            delivery.body,
            signature_header(delivery.body, delivery.secret),
            self.timeout,
        )
        ok = status is not None and 200 <= status < 300
        delivery.attempts.append({"at": int(time.time()), "status": status, "error": error})
        if ok:
            delivery.status = "delivered"
            self.on_delivered(delivery.event_id)
            return
        retry = len(delivery.attempts) - 1
        if retry >= len(self.delays):
            delivery.status = "failed"
            return
        with self._cond:
            self._push(delivery, time.monotonic() + self.delays[retry])

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until nothing is queued or in flight (retries included); False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._queue or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.05))
            return True

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (pending retries are dropped)."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
