"""The running sandbox: its store, webhook dispatcher and clock ticker, with start/stop hooks."""

from __future__ import annotations

import threading

from . import events, lifecycle
from .persist import StateFile
from .state import Store
from .webhooks import Dispatcher


class Sandbox:
    """Everything one app instance owns; `app.extensions["sandbox"]` points here."""

    def __init__(self, config: dict):
        self.config = config
        self.store = Store(config)
        self.dispatcher = Dispatcher(
            config["WEBHOOK_RETRY_DELAYS"],
            config["WEBHOOK_TIMEOUT"],
            on_delivered=lambda event_id: events.mark_delivered(self.store, event_id),
        )
        self.store.dispatcher = self.dispatcher
        self.state_file = (
            StateFile(self.store, config["STATE_FILE"]) if config.get("STATE_FILE") else None
        )
        if self.state_file:
            self.state_file.load()
        if config.get("CONNECT_WEBHOOK_URL"):
            self.register_connect_endpoint(
                config["CONNECT_WEBHOOK_URL"], config.get("CONNECT_WEBHOOK_SECRET")
            )
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        self._ticker_lock = threading.Lock()

    def register_connect_endpoint(self, url: str, secret: str | None) -> None:
        """Make sure the platform has a live Connect endpoint for `url` signing with `secret`
        (an operator's fixed secret, so the receiving portal can be configured before start)."""
        store = self.store
        with store.lock:
            for endpoint in store.all("webhook_endpoint", store.platform_id):
                if endpoint.extra["connect"] and endpoint.obj["url"] == url:
                    endpoint.extra["secret"] = secret or endpoint.extra["secret"]
                    return
            store.add_webhook_endpoint(
                store.platform_id,
                url,
                livemode=True,
                connect=True,
                enabled_events=["*"],
                secret=secret,
                description="registered at start-up",
            )

    def tick(self) -> None:
        """Expire whatever the sandbox clock says is due, then save the state if it changed."""
        lifecycle.expire_due(self.store, self.config)
        if self.state_file:
            self.state_file.save_if_changed()

    def ensure_ticker(self) -> None:
        """Start the daemon thread that expires sessions even when nobody calls the API."""
        with self._ticker_lock:
            if self._ticker is None and not self._stop.is_set():
                self._ticker = threading.Thread(
                    target=self._tick_loop, name="sandbox-clock", daemon=True
                )
                self._ticker.start()

    def _tick_loop(self) -> None:
        while not self._stop.wait(self.config["TICK_SECONDS"]):
            self.tick()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Block until every queued webhook delivery (retries included) is done."""
        return self.dispatcher.wait_idle(timeout)

    def deliveries(self) -> list[dict]:
        """Every delivery made or planned, oldest first, with its attempts."""
        return [d.summary() for d in list(self.dispatcher.deliveries)]

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the background threads; safe to call twice."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout)
        self.dispatcher.stop(timeout)
        if self.state_file:
            self.state_file.save_if_changed()
