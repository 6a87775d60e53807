"""The dashboard page: figures in words, what a new or set-up merchant reads, the period form."""

from __future__ import annotations

import re

import pytest

import stripe_events as se
from factories import PASSWORD
from portal.db import utcnow
from portal.services import dashboard
from dashboard_kit import ACCT, deliver, merchant, seed_story, ts


def test_the_page_shows_the_figures_in_words(client, db, login):
    merchant_id = merchant(db, holdout=10)
    seed_story(client, db, merchant_id, ACCT, utcnow())
    login(client, "dash@example.com", PASSWORD)
    html = client.get("/dashboard/").get_data(as_text=True)
    words = re.sub(r"<svg.*?</svg>", " ", html, flags=re.S)
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", words))
    assert "$144.00" in text and "€25.00" in text  # each currency on its own, never a sum
    assert "$169.00" not in text and "169" not in text
    assert "Up 200 % on the previous 30 days ($48.00)" in text  # usd: 144 against 48
    assert "Up from none in the previous 30 days" in text  # eur: none before
    assert "33.3 %" in text  # recovery rate: 4 of 12
    assert "33.3\u00a0%" in html  # a figure and its sign stay on one line on a phone
    assert (
        'href="/payments/?days=30"' in html and 'href="/carts/?show=recovered&amp;days=30"' in html
    )
    assert "What the emails add" in text and "Too few carts yet to tell" in text
    assert 'role="img"' in html and "<desc " in html and "<script" not in html.split("<main")[1]
    assert "None" not in text and "held_out" not in text


def test_a_new_merchant_reads_what_will_appear(client, db, login):
    merchant(db)
    login(client, "dash@example.com", PASSWORD)
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "Nothing to show yet" in html and 'href="/"' in html and "<svg" not in html
    assert "What the emails add" not in html  # no holdout, no held-out carts


@pytest.mark.parametrize(("given", "days"), [("7", 7), ("90", 90), ("abc", 30), ("-1", 30)])
def test_the_period_comes_from_the_form(client, db, login, given, days):
    merchant_id = merchant(db)
    deliver(client, se.expired("cs_live_one", ACCT, created=ts(utcnow())))
    login(client, "dash@example.com", PASSWORD)
    html = client.get(f"/dashboard/?days={given}").get_data(as_text=True)
    assert f'<option value="{days}" selected>' in html
    assert dashboard.build(merchant_id, days, utcnow()).current.expired == 1


def test_the_dashboard_needs_a_login(client, db):
    assert client.get("/dashboard/").status_code in (302, 401)


def test_a_merchant_set_up_but_without_carts_is_not_told_to_finish_setting_up(
    client, db, login, monkeypatch
):
    from dataclasses import replace

    from portal.services import onboarding

    merchant(db)
    login(client, "dash@example.com", PASSWORD)
    html = client.get("/dashboard/").get_data(as_text=True)
    assert (
        "Finish setting up</a>: accept the cart-recovery terms, add your postal address and "
        "turn on recovery emails." in html
    )
    real = onboarding.checklist
    monkeypatch.setattr(
        onboarding, "checklist", lambda m: [replace(s, done=True) for s in real(m)]
    )
    html = client.get("/dashboard/").get_data(as_text=True)
    assert "Finish setting up" not in html and "Your setup is complete" in html


def test_home_says_what_happens_next_once_set_up_and_before_any_cart(
    app, client, db, login, monkeypatch
):
    from dataclasses import replace

    from portal.services import onboarding

    merchant(db)
    login(client, "dash@example.com", PASSWORD)
    home = client.get("/").get_data(as_text=True)
    assert "You are set up" not in home and "<details" not in home.split("Get set up")[0][-80:]
    real = onboarding.checklist
    monkeypatch.setattr(  # every required step done, the optional ones still to do
        onboarding, "checklist", lambda m: [replace(s, done=not s.optional) for s in real(m)]
    )
    home = client.get("/").get_data(as_text=True)
    assert "You are set up" in home and "Nothing has expired yet." in home
    folded = "all 4 required steps done, 2 optional steps left"
    assert '<details class="card checklist-card">' in home and folded in home
    assert "/shop/" not in home and 'on the <a href="/carts/">Carts</a> page' in home
    monkeypatch.setitem(app.config, "STRIPE_API_BASE", "http://127.0.0.1:12111")
    home = client.get("/").get_data(as_text=True)  # the offline sandbox: try it in its shop
    assert f'href="http://127.0.0.1:12111/shop/{ACCT}">Try it' in home
