"""Shared fixtures: a real database (PostgreSQL when TEST_DATABASE_URL is set, else SQLite),
real Redis (TEST_REDIS_URL, default database 15 on localhost), and CSRF left on everywhere."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import create_engine, text

from portal import create_app
from portal import db as portal_db
from portal.config import _driver_url
from factories import PASSWORD, make_owner
from helpers import post_form

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# A group's folder (tests/mail/, tests/domains/ …) holds its tests, its conftest.py and its kit
# module, which those tests import by name as tests/'s own modules are: each such folder goes on
# sys.path. A module imported from several folders stays in tests/.
sys.path.extend(str(kit.parent) for kit in sorted(Path(__file__).parent.glob("*/*_kit.py")))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    """An emptied database migrated to head: every run starts from nothing."""
    url = os.environ.get("TEST_DATABASE_URL")
    url = (
        _driver_url(url) if url else f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
    )
    if url.startswith("postgresql"):
        _drop_everything(url)
    portal_db.upgrade(url)
    return url


@pytest.fixture
def racing(database_url):
    """For a race of two real connections: skipped on SQLite, which takes one writer at a time."""
    if not database_url.startswith("postgresql"):
        pytest.skip("a race of two connections needs PostgreSQL")


def _drop_everything(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def _app(database_url):
    from stripe_events import CONNECT_SECRET

    return create_app(
        {
            "PORTAL_ENV": "testing",
            "DATABASE_URL": database_url,
            "REDIS_URL": TEST_REDIS_URL,
            "STRIPE_CONNECT_WEBHOOK_SECRET": CONNECT_SECRET,
        }
    )


@pytest.fixture
def app(_app):
    """The app, with every table emptied after the test (real commits, real isolation).

    No app context stays pushed: requests must not share one `g`, as they never do in production.
    """
    yield _app
    portal_db.session.remove()
    with _app.extensions["db_engine"].begin() as conn:
        for table in reversed(portal_db.Base.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def db(app):
    """The database session, on a database emptied after the test."""
    return portal_db.session


@pytest.fixture
def redis_conn():
    """The test Redis database, emptied before the test."""
    conn = Redis.from_url(TEST_REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def login():
    """login(client, email, password) -> response, through the real login form."""

    def _login(client, email: str, password: str, **extra):
        return post_form(client, "/login", {"email": email, "password": password, **extra})

    return _login


@pytest.fixture
def owner(client, login):
    """The signed-in owner of Acme Tea (the editor and settings tests); a folder or module that
    needs another owner defines its own."""
    user = make_owner("Acme Tea", "owner@example.com")
    login(client, "owner@example.com", PASSWORD)
    return user


@pytest.fixture
def live_server(app):
    """The test app on a real loopback port, in a thread; stopped after the test."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def sandbox_server(app, monkeypatch):
    """The Stripe sandbox on a loopback port, with the portal's Stripe settings pointed at it.
    (Tests may import the sandbox; the portal itself only ever talks to it over HTTP.)"""
    import threading

    from werkzeug.serving import make_server

    from stripe_sandbox import create_app as create_sandbox

    sandbox = create_sandbox({"WEBHOOK_RETRY_DELAYS": [0.05, 0.1], "TICK_SECONDS": 0.05})
    server = make_server("127.0.0.1", 0, sandbox, threaded=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    sandbox.config["PUBLIC_URL"] = base
    for name, value in {
        "STRIPE_API_BASE": base,
        "STRIPE_CONNECT_BASE": base,
        "STRIPE_SECRET_KEY": sandbox.config["PLATFORM_SECRET_KEY"],
        "STRIPE_TEST_SECRET_KEY": sandbox.config["PLATFORM_TEST_SECRET_KEY"],
        "STRIPE_CLIENT_ID": sandbox.config["CLIENT_ID"],
    }.items():
        monkeypatch.setitem(app.config, name, value)
    sandbox.base = base
    yield sandbox
    server.shutdown()
    thread.join(5)
    sandbox.extensions["sandbox"].stop()


# One Chromium for the whole run, shared by every test that drives it: Playwright's sync API
# allows one instance per thread.
CHROMIUM = "/usr/bin/chromium"
# Chromium must not phone home: this machine's network is closed and refuses those connections.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: .ci/run must install Debian's chromium package")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def sink():
    """An SMTP server on loopback that keeps what it receives (smtp_sink)."""
    from smtp_sink import SmtpSink

    with SmtpSink() as running:
        yield running


@pytest.fixture
def kit(app, sandbox_server, sink, redis_conn, live_server, monkeypatch):
    """A connected merchant on the sandbox, the real worker and the SMTP sink (recovery_kit);
    modules that need another make their own."""
    from portal.extensions import rq
    from recovery_kit import make_kit

    monkeypatch.setattr(rq, "connection", redis_conn)
    return make_kit(app, sandbox_server, sink, redis_conn, live_server, monkeypatch)
