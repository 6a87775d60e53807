"""Test helpers: form posts as a browser makes them, the error a form shows beside a field,
calls from many threads at once, and whether a transaction is open across an outside call."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time
from html import unescape

from redis import Redis
from redis.exceptions import RedisError

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')
# The hidden fields a page carries for its save: the version or settings it was made from.
CARRIED_RE = re.compile(r'name="(base|stamp)" type="hidden" value="([^"]*)"')


def csrf_token(client, page: str) -> str:
    """The CSRF token a browser would find on `page`."""
    return _page_fields(client, page)["csrf_token"]


def _page_fields(client, page: str) -> dict[str, str]:
    html = client.get(page).get_data(as_text=True)
    match = CSRF_RE.search(html) or re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {page}"
    return {**dict(CARRIED_RE.findall(html)), "csrf_token": match.group(1)}


def post_form(client, path: str, data: dict, page: str | None = None, **kwargs):
    """POST `data` to `path` as a browser would: with the CSRF token, and the page's version
    or settings stamp, from `page` (default: path); `data` may set them otherwise."""
    return client.post(path, data={**_page_fields(client, page or path), **data}, **kwargs)


def committing(app, write, errors: list):
    """A callable that runs `write` in an app context of its own (so, in a thread, its own
    session and connection) and commits; what it raises goes into `errors`."""
    from portal import db

    def run() -> None:
        try:
            with app.app_context():
                write()
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001  reported to the test
            errors.append(exc)

    return run


def run_in_threads(function, count: int, timeout: float = 30) -> list[BaseException]:
    """Call `function(n)` for n in range(count), each in its own thread, all released at once;
    the exceptions the calls raised."""
    barrier, errors = threading.Barrier(count), []

    def call(n: int) -> None:
        barrier.wait()
        try:
            function(n)
        except Exception as exc:  # noqa: BLE001  (returned to the test, which asserts on them)
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return errors


class PrivateRedis:
    """A redis-server of the test's own on a free loopback port, to stop and start again."""

    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
        )
        client = Redis.from_url(self.url, socket_connect_timeout=1)
        deadline = time.monotonic() + 10
        while not _answers(client):
            assert time.monotonic() < deadline, "the private redis-server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _answers(client: Redis) -> bool:
    try:
        return client.ping()
    except RedisError:
        return False


def abandon_in_shop(browser, shop_url: str, email: str):
    """A shopper in the sandbox's shop: checks out, types `email`, agrees to marketing email,
    saves, leaves, and has the session expired. Returns the shopper's page."""
    shopper = browser.new_context().new_page()
    shopper.set_default_timeout(10_000)
    shopper.goto(shop_url)
    shopper.get_by_role("button", name="Check out").click()
    shopper.get_by_label("Email").fill(email)
    shopper.get_by_label("Keep me updated with news and offers").check()
    shopper.get_by_role("button", name="Save details").click()
    shopper.goto(shop_url)
    shopper.get_by_role("button", name="Expire now").click()
    return shopper


def error_beside(page: str, field_id: str) -> str:
    """The first error message inside the field block that holds the control `field_id`."""
    blocks = re.split(r'<div class="field', page)
    block = next(b for b in blocks if f'id="{field_id}"' in b)
    match = re.search(r'<p class="error"[^>]*>([^<]+)</p>', block)
    assert match, f"no error beside {field_id}"
    return unescape(match.group(1))


def transactions_during(monkeypatch, module, name: str) -> list[bool]:
    """Patch `module.name` (a call to Stripe, DNS or a mail server) to record, at each call,
    whether the database session has a transaction open; the list it fills."""
    from portal import db

    held, original = [], getattr(module, name)

    def watched(*args, **kwargs):
        held.append(db.session().in_transaction())
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, watched)
    return held
