"""The pages a shopper reaches from a recovery email speak the merchant's language, as the
email did: the unsubscribe page (asked, done, already) and the expired cart's page."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from portal.db import utcnow
from portal.models import CheckoutSession, Contact, SendingSettings
from portal.services import links
from portal.web.shopper_words import ENGLISH, PHRASES, Phrases
from test_links import _path, mailed_send


@pytest.fixture
def send(app, client, db):
    return mailed_send(client, db)


def _speak(db, send, locale: str) -> None:
    settings = db.get(SendingSettings, send.merchant_id) or SendingSettings(
        merchant_id=send.merchant_id
    )
    settings.locale = locale
    db.add(settings)
    db.commit()


def _unsubscribe_path(app, send) -> str:
    with app.test_request_context():
        return _path(links.unsubscribe_link(send.id))


def test_a_german_merchants_shopper_unsubscribes_on_a_german_page(app, client, db, send):
    _speak(db, send, "de_DE")
    path = _unsubscribe_path(app, send)
    asked = client.get(path).get_data(as_text=True)
    assert '<html lang="de">' in asked and "Keine E-Mails mehr von Tea Shop?" in asked
    assert ">Abmelden</button>" in asked and "Unsubscribe" not in asked
    assert "rae@<wbr>example<wbr>.com erhält von Tea Shop keine Werbung" in asked
    done = client.post(path).get_data(as_text=True)
    assert "Sie sind abgemeldet" in done
    assert db.scalars(select(Contact.status)).all() == ["unsubscribed"]
    again = client.get(path).get_data(as_text=True)
    assert "Sie sind bereits abgemeldet" in again and "<form" not in again


def test_an_expired_cart_says_so_in_the_merchants_language(app, client, db, send):
    _speak(db, send, "fr_CA")
    db.scalars(select(CheckoutSession)).one().recovery_expires_at = utcnow() - timedelta(hours=1)
    db.commit()
    with app.test_request_context():
        path = _path(links.recovery_link(send.id))
    response = client.get(path)
    page = response.get_data(as_text=True)
    assert response.status_code == 410 and '<html lang="fr">' in page
    assert "Ce panier a expiré" in page and "chez Tea Shop n’est plus valide" in page


@pytest.mark.parametrize("locale", ["en_US", "ja_JP", "xx_YY"])
def test_a_language_without_a_table_keeps_the_english_page(app, client, db, send, locale):
    _speak(db, send, locale)
    page = client.get(_unsubscribe_path(app, send)).get_data(as_text=True)
    assert '<html lang="en">' in page and "Unsubscribe from Tea Shop?" in page


def test_a_hostile_name_is_escaped_and_a_name_ending_in_a_stop_gets_no_second_one():
    say = Phrases("de")
    assert say("ask", merchant="<b>x</b>") == "Keine E-Mails mehr von &lt;b&gt;x&lt;/b&gt;?"
    assert str(Phrases("en")("no_more", email="a@b.c", merchant="Tea & Co.")) == (
        "a@b.c will get no more news, offers or cart reminders from Tea &amp; Co."
    )  # the whole list, as the status the CSV passes on says: not cart emails alone
    assert str(Phrases("fr")("expired_why", merchant="Co.")).endswith(
        "chez Co. n’est plus valide."
    )


def test_every_table_has_every_phrase_with_the_same_placeholders():
    for language, table in PHRASES.items():
        assert table.keys() == ENGLISH.keys(), language
        for key, text in table.items():
            for name in ("{email}", "{merchant}"):
                assert (name in text) == (name in ENGLISH[key]), (language, key, name)
