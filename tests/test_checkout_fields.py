"""The Checkout Session's language and fields as the mirror keeps them."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import stripe_events as se
from factories import make_connected
from portal.mail.values import email_locale
from portal.models import CheckoutSession
from portal.services import session_fields, sessions


def _snapshot(merchant_id: int, **fields) -> sessions.Snapshot:
    event = se.expired("cs_live_Locale", "acct_1ExampleMerchant01", **fields)
    created = datetime.fromtimestamp(event["created"], timezone.utc)
    return sessions.Snapshot(merchant_id, event["type"], created, event["data"]["object"])


@pytest.mark.parametrize(
    ("sent", "kept"),
    [
        ("fr-CA", "fr-CA"),
        ("auto", "auto"),
        (None, None),
        ("", None),
        (42, None),
        ("x" * 40, "x" * 16),
    ],
)
def test_fields_keep_the_checkout_language_as_stripe_sent_it(sent, kept):
    snap = _snapshot(1, locale=sent)
    assert session_fields.fields(snap.obj, snap.event_created)["locale"] == kept


def test_the_mirror_stores_the_checkout_language_and_follows_newer_events(db):
    merchant_id = make_connected().merchant_id
    sessions.apply([_snapshot(merchant_id, locale="pt-BR")])
    db.commit()
    mirror = db.scalar(
        select(CheckoutSession).where(CheckoutSession.session_id == "cs_live_Locale")
    )
    assert mirror.locale == "pt-BR"
    later = _snapshot(merchant_id, locale="es-419")
    later = sessions.Snapshot(
        merchant_id, later.event_type, mirror.state_at + timedelta(seconds=1), later.obj
    )
    sessions.apply([later])
    db.commit()
    db.expire_all()
    assert db.get(CheckoutSession, mirror.id).locale == "es-419"
    assert email_locale(db.get(CheckoutSession, mirror.id).locale) == "es_419"


def _fields(**event_fields) -> dict:
    event = se.expired("cs_live_Fields", "acct_1ExampleMerchant01", **event_fields)
    created = datetime.fromtimestamp(event["created"], timezone.utc)
    return session_fields.checked(session_fields.fields(event["data"]["object"], created))


@pytest.mark.parametrize("email", ["a\x00b@example.com", "a\x01@example.com", "a\r\nb@x.io"])
def test_an_address_with_a_control_character_counts_as_none(email):
    assert _fields(email=email)["email"] is None
    assert _fields(email=" Shopper@Example.com ")["email"] == "shopper@example.com"


def test_an_address_is_kept_in_the_spelling_a_csv_row_of_it_gets():
    # Stripe passes on what the shopper typed; a file from another tool may spell it otherwise.
    assert _fields(email="JOSE\u0301@xn--mnchen-3ya.de")["email"] == "jos\u00e9@m\u00fcnchen.de"
    assert _fields(email="jos\u00e9@M\u00dcNCHEN.de")["email"] == "jos\u00e9@m\u00fcnchen.de"


def test_the_shoppers_name_is_kept_on_one_line_and_cut_to_its_column():
    event = se.expired("cs_live_Name", "acct_1ExampleMerchant01")
    event["data"]["object"]["customer_details"]["name"] = "Jenny\r\nBcc: x\x00" + "y" * 300
    now = datetime.now(timezone.utc)
    name = session_fields.checked(session_fields.fields(event["data"]["object"], now))
    assert name["customer_name"].startswith("Jenny Bcc: x y") and len(name["customer_name"]) == 200


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("https://buy.stripe.com/r/live_abc", True),
        ("http://127.0.0.1:12111/r/abc", True),
        ("javascript:alert(1)", False),
        ("data:text/html,hi", False),
        ("https:///no-host", False),
        ("http://[::1", False),
    ],
)
def test_only_a_web_address_is_kept_as_the_recovery_url(url, kept):
    recovery = {"enabled": True, "allow_promotion_codes": False, "url": url, "expires_at": None}
    values = _fields(after_expiration={"recovery": recovery})
    assert values["recovery_url"] == (url if kept else None)


def test_a_string_longer_than_its_column_fails_the_event_by_name():
    with pytest.raises(ValueError, match="recovered_from longer than 255 characters"):
        _fields(recovered_from="cs_" + "x" * 300)


@pytest.mark.parametrize("session_id", [None, "", 42, "cs_" + "x" * 300])
def test_a_session_without_a_usable_id_fails_by_name(db, session_id):
    event = se.expired("cs_live_X", "acct_1ExampleMerchant01")
    event["data"]["object"]["id"] = session_id
    snap = sessions.Snapshot(1, event["type"], datetime.now(timezone.utc), event["data"]["object"])
    with pytest.raises(ValueError, match="malformed checkout.session: id"):
        sessions.apply([snap])
