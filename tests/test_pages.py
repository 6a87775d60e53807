"""What every signed-in page shares: times in the merchant's time zone, named."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import stripe_events as se
from factories import PASSWORD, make_connected, make_member
from portal.models import SendingSettings
from portal.services import events

ACCT = "acct_1PagesMerchant00001"
EXPIRED = int(datetime(2026, 7, 1, 12, 30, tzinfo=timezone.utc).timestamp())


def test_times_show_in_the_merchants_time_zone_with_the_zone_named(client, db, login):
    owner = make_connected(ACCT, email="tz@example.com")
    assert se.post(client, se.expired("cs_live_tz", ACCT, created=EXPIRED)).status_code == 200
    events.drain()
    login(client, "tz@example.com", PASSWORD)
    assert "Jul 1, 2026, 12:30 UTC" in client.get("/carts/").get_data(as_text=True)
    db.add(SendingSettings(merchant_id=owner.merchant_id, timezone="Asia/Tokyo"))
    db.commit()
    listing = client.get("/carts/").get_data(as_text=True)
    assert "Jul 1, 2026, 21:30 JST" in listing and "12:30" not in listing


def test_an_owner_left_in_utc_is_told_where_to_choose_a_time_zone(client, app, db, login):
    owner = make_connected(ACCT, email="utc@example.com")
    make_member(owner.merchant_id, "mate@example.com")
    login(client, "utc@example.com", PASSWORD)
    home = client.get("/").get_data(as_text=True)
    assert "The portal shows your times in UTC." in home
    assert '<a href="/settings#timezone">choose your time zone in Settings</a>' in home
    with app.test_client() as member:
        login(member, "mate@example.com", PASSWORD)
        assert "shows your times in UTC" not in member.get("/").get_data(as_text=True)
    db.add(SendingSettings(merchant_id=owner.merchant_id, timezone="Europe/Oslo"))
    db.commit()
    assert "shows your times in UTC" not in client.get("/").get_data(as_text=True)


def test_home_shows_the_last_30_days_once_carts_expire(client, db, login):
    make_connected(ACCT, email="home@example.com")
    login(client, "home@example.com", PASSWORD)
    assert "Last 30 days" not in client.get("/").get_data(as_text=True)  # nothing to show yet
    for event in (
        se.expired("cs_live_old", ACCT, created=EXPIRED - 40 * 86400),
        se.expired("cs_live_a", ACCT),
        se.expired("cs_live_b", ACCT),
        se.completed("cs_live_a2", ACCT, recovered_from="cs_live_a", amount=4200, currency="eur"),
    ):
        assert se.post(client, event).status_code == 200
    events.drain()
    home = client.get("/").get_data(as_text=True)
    figures = dict(re.findall(r"<dt>([^<]+)</dt><dd>\s*([^<]+?)\s*</dd>", home))
    assert figures["Carts expired"] == "2" and figures["Emails sent"] == "0"
    assert figures["Carts recovered"] == "1" and figures["Recovered revenue"] == "€42.00"


def test_a_new_terms_version_shows_a_banner_until_the_owner_accepts_it(
    client, db, login, monkeypatch
):
    from portal.services import terms

    owner = make_connected(ACCT, email="banner@example.com")
    login(client, "banner@example.com", PASSWORD)
    assert "terms have changed" not in client.get("/").get_data(as_text=True)  # never accepted
    terms.accept(owner.merchant, owner, "127.0.0.1")
    db.commit()
    monkeypatch.setattr(terms, "CURRENT_VERSION", "2099-01-01")
    assert "terms have changed: recovery emails are paused" in client.get("/").get_data(
        as_text=True
    )
    terms.accept(owner.merchant, owner, "127.0.0.1")
    db.commit()
    assert "terms have changed" not in client.get("/").get_data(as_text=True)


def test_an_address_heading_wraps_at_its_at_and_dots_and_stays_escaped():
    from portal.web.filters import address_breaks

    assert str(address_breaks("sam.rivera@example.com")) == "sam<wbr>.rivera@<wbr>example<wbr>.com"
    assert str(address_breaks('<b>"x"@y.z')) == "&lt;b&gt;&#34;x&#34;@<wbr>y<wbr>.z"
    assert str(address_breaks(None)) == ""


def test_the_menu_marks_the_page_you_are_on_and_its_section(client, db, login):
    make_connected(ACCT, email="menu@example.com")
    login(client, "menu@example.com", PASSWORD)

    def current(path: str) -> list[tuple[str, str]]:
        page = client.get(path, follow_redirects=True).get_data(as_text=True)
        menu = re.search(r'<nav aria-label="Main".*?</nav>', page, flags=re.S)[0]
        return re.findall(r'<a [^>]*aria-current="(\w+)"[^>]*>([^<]*)</a>', menu)

    for path, words in [
        ("/", "Home"),
        ("/subscriptions", "Subscriptions"),
        ("/settings", "Settings"),
        ("/team", "Team"),
        ("/outbox", "Outbox"),
        ("/account", "Account"),  # a teammate looking for their password finds it by name
    ]:
        assert current(path) == [("page", words)]
    # A page inside a section (reached from Settings) marks its section, not as the page itself.
    assert current("/dry-runs") == [("true", "Settings")]
    skip = client.get("/").get_data(as_text=True)
    assert skip.index('href="#content">Skip to content</a>') < skip.index('aria-label="Main"')
    assert '<main id="content"' in skip  # the first Tab leads past the menu


def test_a_time_zone_reads_as_people_name_it_with_its_place():
    from portal.services.zone_table import in_words

    assert in_words("America/Los_Angeles") == "Pacific Time (Los Angeles)"
    assert in_words("Europe/Berlin") == "Central European Time (Berlin)"
    assert in_words("US/Eastern") == "Eastern Time"  # an alias: its place is in the name
    # No place, or no common name in the locale data: the zone's own name, words spaced.
    assert [in_words(z) for z in ("UTC", "Etc/GMT+5", "Antarctica/Troll")] == [
        "UTC",
        "Etc/GMT+5",
        "Antarctica/Troll",
    ]
