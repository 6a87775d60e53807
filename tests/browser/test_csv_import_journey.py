"""Importing subscriptions in headless Chromium: the owner uploads a CSV file of a few thousand
rows, the real worker applies it while the page's progress bar moves by itself (no reload), and
the rejected rows appear with their line numbers; the page fits 1280 and 375 px."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from playwright.sync_api import expect
from rq import Queue

from factories import PASSWORD, make_owner
from portal import worker
from portal.extensions import rq
from portal.services import csv_imports
import screens

pytestmark = pytest.mark.browser
ROWS = 3000


@pytest.fixture
def portal(app, live_server, redis_conn, monkeypatch) -> str:
    monkeypatch.setattr(rq, "connection", redis_conn)
    monkeypatch.setitem(app.config, "PUBLIC_URL", live_server)
    make_owner("Bean Shop", "owner@bean.example")
    return live_server


@pytest.fixture
def slow_batches(monkeypatch):
    """Small batches, each a little slow, so the page sees the job half-way."""
    real = csv_imports.apply_rows

    def apply_slowly(*args):
        time.sleep(0.3)
        return real(*args)

    monkeypatch.setattr(csv_imports, "BATCH_ROWS", 500)
    monkeypatch.setattr(csv_imports, "apply_rows", apply_slowly)


def _file(tmp_path: Path) -> Path:
    lines = ["Email address,Subscription status,Updated at"]
    lines += [f"shopper{n}@example.com,Subscribed,{1698094682 + n}" for n in range(ROWS)]
    lines[1000] = "not-an-address,Subscribed,"
    lines[2000] = "shopper2000@example.com,Maybe,"
    path = tmp_path / "subscriptions.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def _shoot(page, name: str) -> None:
    screens.shoot(page, f"csv-import-{name}")


def test_upload_watch_the_progress_reach_the_end_and_see_rejects(
    app, portal, redis_conn, page, tmp_path, slow_batches
):
    page.goto(f"{portal}/login")
    page.get_by_label("Email").fill("owner@bean.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Bean Shop").wait_for()

    page.goto(f"{portal}/subscriptions/import")
    _shoot(page, "upload")
    page.locator("input#file").set_input_files(str(_file(tmp_path)))
    page.get_by_role("button", name="Upload and import").click()
    expect(page.get_by_role("heading", name="Waiting to start")).to_be_visible()
    # Remember what the page showed after each htmx swap; a reload would wipe this variable.
    page.evaluate(
        """window.seen = [];
        document.body.addEventListener('htmx:afterSwap', () => window.seen.push(
            Number(document.querySelector('[data-figure=rows_read]').textContent.replace(/,/g, ''))));"""
    )

    queues = [Queue(name, connection=redis_conn) for name in ("events", "mail", "default")]
    assert worker.run(app, redis_conn, queues, burst=True)

    expect(page.get_by_role("heading", name="Finished")).to_be_visible()
    figures = page.locator(".figures")
    expect(figures.locator("[data-figure=rows_read]")).to_have_text(f"{ROWS:,}")
    expect(figures.locator("[data-figure=applied]")).to_have_text(f"{ROWS - 2:,}")
    expect(figures.locator("[data-figure=rejected]")).to_have_text("2")
    seen = page.evaluate("window.seen")  # still there: the page never reloaded
    assert seen[-1] == ROWS and any(0 < n < ROWS for n in seen), seen
    assert page.locator("#import-bar").get_attribute("value") == page.locator(
        "#import-bar"
    ).get_attribute("max")
    rejects = page.get_by_role("table")
    expect(rejects).to_contain_text("1001")
    expect(rejects).to_contain_text("not an email address")
    expect(rejects).to_contain_text("unknown status “Maybe”")
    expect(page.get_by_role("link", name="Download all rejected rows (CSV)")).to_be_visible()
    _shoot(page, "done")
