"""The development outbox: each merchant sees only its own messages, rendered inertly."""

from __future__ import annotations

from email import message_from_string, policy
from zoneinfo import ZoneInfo

from factories import PASSWORD, make_outbox_message, make_owner
from portal.models import OutboxMessage, SendingSettings


def _stored(db, merchant_id: int, subject: str) -> OutboxMessage:
    return make_outbox_message(merchant_id, subject, '<p>Hi</p><script>alert("x")</script>')


def test_outbox_lists_and_shows_only_the_merchants_own_messages(client, db, login):
    mine, theirs = make_owner(email="me@example.com"), make_owner(email="them@example.com")
    own = _stored(db, mine.merchant_id, "Your cart at Shop")
    other = _stored(db, theirs.merchant_id, "Someone else's cart")
    login(client, "me@example.com", PASSWORD)
    listing = client.get("/outbox/").get_data(as_text=True)
    assert "Your cart at Shop" in listing and "Someone else" not in listing
    page = client.get(f"/outbox/{own.id}").get_data(as_text=True)
    # No allow-scripts: with it, allow-same-origin would let the email script the portal.
    assert 'sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"' in page
    assert "<script>" not in page and "&lt;script&gt;" in page  # escaped into srcdoc, inert
    assert "Your cart is waiting" in page
    assert client.get(f"/outbox/{other.id}").status_code == 404


def test_an_outbox_email_says_when_it_was_sent_in_the_merchants_time_zone(client, db, login):
    owner = make_owner(email="tz@example.com")
    sending = db.get(SendingSettings, owner.merchant_id) or SendingSettings(
        merchant_id=owner.merchant_id
    )
    sending.timezone = "Asia/Tokyo"
    db.add(sending)
    db.commit()
    row = _stored(db, owner.merchant_id, "Your cart at Shop")
    sent = message_from_string(row.raw, policy=policy.default)["Date"].datetime
    login(client, "tz@example.com", PASSWORD)
    page = client.get(f"/outbox/{row.id}").get_data(as_text=True)
    local = sent.astimezone(ZoneInfo("Asia/Tokyo"))
    assert f"({local:%b} {local.day}, {local.year}, {local:%H:%M} JST)" in page


def test_an_outbox_email_folds_its_technical_headers(client, db, login):
    owner = make_owner(email="fold@example.com")
    row = _stored(db, owner.merchant_id, "Your cart at Shop")
    login(client, "fold@example.com", PASSWORD)
    page = client.get(f"/outbox/{row.id}").get_data(as_text=True)
    main, _, folded = page.partition("<summary>Technical headers</summary>")
    assert "<dt>Subject</dt>" in main and "<dt>To</dt>" in main
    assert "<dt>Message-ID</dt>" in folded and "<dt>Message-ID</dt>" not in main


def test_an_empty_outbox_says_where_to_abandon_a_cart(client, db, login):
    make_owner(email="new@example.com")
    login(client, "new@example.com", PASSWORD)
    listing = client.get("/outbox/").get_data(as_text=True)
    assert "Nothing yet." in listing and "sandbox shop" in listing
    assert '<a href="/connect">Connect Stripe</a> links to the shop' in listing
