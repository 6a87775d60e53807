"""Who may see and change the sending settings: members, other merchants, visitors."""

from __future__ import annotations

import re

from sqlalchemy import select

from factories import PASSWORD, make_member, make_owner
from helpers import post_form
from portal.models import Merchant, SendingSettings
from settings_kit import VALID, stored


def test_members_see_the_settings_read_only_and_cannot_change_them(client, db, login, owner):
    assert post_form(client, "/settings", VALID).status_code == 302
    make_member(owner.merchant_id, "member@example.com")
    member = client.application.test_client()
    login(member, "member@example.com", PASSWORD)
    page = member.get("/settings").get_data(as_text=True)
    assert "Only the account's owner can change these settings." in page
    assert 'action="/settings"' not in page and "Turn recovery emails on" not in page
    assert "30 minutes after expiry" in page and "24 hours after expiry" in page
    assert "22:00 to 07:00" in page and "Send to your team only" in page
    assert (
        "Central European Time (Paris)" in page
        and "Europe/Paris" not in page
        and "10&nbsp;% of eligible carts" in page
    )
    for path in ("/settings", "/settings/enable", "/settings/disable"):
        response = post_form(member, path, {**VALID, "sender_name": "Taken over"}, page="/")
        assert response.status_code == 403, path
    assert stored(db, owner.merchant_id).sender_name == "Acme Tea"
    assert not db.get(Merchant, owner.merchant_id).recovery_enabled


def test_another_merchants_settings_are_never_shown_or_changed(client, db, login):
    alice = make_owner("Alice Shop", "alice@example.com")
    login(client, "alice@example.com", PASSWORD)
    secret = {**VALID, "sender_name": "Alice Secret", "postal_address": "9 Hidden Way"}
    assert post_form(client, "/settings", secret).status_code == 302
    bob = make_owner("Bob Shop", "bob@example.com")
    other = client.application.test_client()
    login(other, "bob@example.com", PASSWORD)
    page = other.get("/settings").get_data(as_text=True)
    assert "Alice" not in page and "Hidden Way" not in page
    assert post_form(other, "/settings", {**VALID, "sender_name": "Bob"}).status_code == 302
    assert stored(db, alice.merchant_id).sender_name == "Alice Secret"
    assert stored(db, bob.merchant_id).sender_name == "Bob"


def test_logged_out_visitors_are_sent_to_log_in(client, db):
    make_owner("Acme Tea", "owner@example.com")
    assert client.get("/settings").headers["Location"].startswith("/login?next=")
    token = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', token).group(1)
    for path in ("/settings", "/settings/enable", "/settings/disable"):
        response = client.post(path, data={**VALID, "csrf_token": csrf})
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login")
    assert db.scalars(select(SendingSettings)).first() is None
