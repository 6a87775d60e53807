"""The webhook endpoint's nudge: a drain of the stored events requested from a background
thread of the web process, so that no webhook waits on Redis."""

from __future__ import annotations

import logging
import threading
import time

from redis.exceptions import RedisError

from portal import jobs
from portal.extensions import rq

log = logging.getLogger(__name__)
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
        if self.wanted.is_set():  # asked already and not yet taken: that drain covers this event
            return
        self.wanted.set()
        if self.thread is None or not self.thread.is_alive():
            with self.lock:  # one thread per process (gunicorn forks before the first request)
                if self.thread is None or not self.thread.is_alive():
                    self.thread = threading.Thread(
                        target=self._run, args=(app,), daemon=True, name="webhook-nudger"
                    )
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
            except Exception:  # noqa: BLE001  the thread must outlive a bug: nudges skip it when asked
                log.exception("could not enqueue event processing (the sweep will)")
                time.sleep(1)
            # Under load, one nudge per pause stands for every webhook that arrived meanwhile.
            time.sleep(NUDGE_PAUSE_SECONDS)


_nudger = _Nudger()


def nudge(app) -> None:
    """Have a drain requested soon, from a thread of this process: never waits on Redis."""
    _nudger.nudge(app)
