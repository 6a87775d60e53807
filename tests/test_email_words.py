"""The recovery email's fixed lines in the merchant's language: unit tests of the renderer for
every language with a table, and one email end to end (sandbox webhooks, the real worker, SMTP
on loopback) for a merchant writing in German."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone

import pytest

from factories import PASSWORD, make_owner
from helpers import post_form
from portal.mail.content import DEFAULT_CONTENT, problems
from portal.mail.content import default_content as english_default
from portal.mail.default_texts import default_content
from portal.mail.rendering import render
from portal.mail.words import ENGLISH, WORDS, words_for
from portal.models import SendingSettings
from portal.services import email_design
from portal.services import settings as settings_service
from rendering_kit import Document, make_ctx

ENGLISH_LINES = ("Qty", "Total", "Use code", "is available until", "Questions?", "Unsubscribe")


def german(**changes):
    brand = dataclasses.replace(make_ctx().brand, support_email="hilfe@bohnen.example")
    return make_ctx(
        **{"wording": "de_DE", "locale": "de_DE", "promotion_code": "SPAR10", "brand": brand}
        | changes
    )


def test_a_german_merchants_email_has_its_fixed_lines_in_german():
    email = render(german())
    doc = Document(email.html)
    assert doc.find("html")[0]["lang"] == "de"
    text = " ".join(doc.text.split())
    for line in (
        "Diese 3 Artikel liegen noch in Ihrem Warenkorb",
        "Menge: 2",
        "Gesamt",
        "Verwenden Sie beim Bezahlen den Code SPAR10",
        "Ihr Warenkorb ist bis zum 21. Dezember 2026 gespeichert.",
        "Fragen? hilfe@bohnen.example",
    ):
        assert line in text and line in " ".join(email.text.split()), line
    (unsubscribe,) = [(a, words) for a, words in doc.links if words == "Abmelden"]
    assert unsubscribe[0]["href"] == "https://portal.test/unsubscribe/u456"
    assert "Abmelden: https://portal.test/unsubscribe/u456" in email.text
    assert "- Stoneware mug (Menge: 2): 36,00" in email.text
    for english in ENGLISH_LINES:  # the texts are the merchant's: English, but none of these
        assert english not in email.text and english not in doc.text, english


def test_french_text_lines_put_a_no_break_space_before_each_colon():
    email = render(german(wording="fr_FR", locale="fr_FR"))
    assert "- Stoneware mug (qté 2)\u00a0: 36,00" in email.text


@pytest.mark.parametrize("language", sorted(set(WORDS) - {"en"}))
def test_every_language_fills_its_lines_and_leaves_no_english_one(language):
    ctx = german(wording=f"{language}_XX", locale="en_US")
    email = render(ctx)
    words = WORDS[language]
    assert Document(email.html).find("html")[0]["lang"] == language
    assert not re.search(r"\{(count|code|date|merchant)\}", email.html + email.text)
    assert words.total in email.text and words.unsubscribe[1] in email.html
    assert words.many_items.replace("{count}", "3") in email.text
    assert "December 21, 2026" in email.text  # the date as the checkout's locale writes it
    line = "".join(words.unsubscribe).replace("{merchant}", ctx.brand.merchant_name)
    assert line in " ".join(Document(email.html).text.split())
    # "Total" is French, Spanish and Portuguese too; French sets its colon apart.
    assert f"\n{words.total}{words.colon} " in email.text
    for english in set(ENGLISH_LINES) - {"Total"}:
        assert english not in email.text, english


@pytest.mark.parametrize("wording", ["en_US", "ja_JP", "", "xx", None, "de-AT", "no_NO", "nn"])
def test_a_language_without_a_table_gets_english(wording):
    expected = {"de-AT": "de", "no_NO": "nb", "nn": "nb"}.get(wording or "", "en")
    assert words_for(wording).language == expected
    if expected == "en":
        email = render(make_ctx(wording=wording or "en_US"))
        assert "Total: $84.00" in email.text and "Unsubscribe:" in email.text
        assert words_for(wording) is ENGLISH


def test_without_a_name_the_greeting_drops_the_placeholder_where_no_word_reads_right():
    content = dataclasses.replace(DEFAULT_CONTENT, headline="Hallo {customer_name}, noch da?")
    nameless = render(german(customer_name=None, content=content))
    assert "Hallo, noch da?" in nameless.text and "Hallo, noch da?" in nameless.html
    named = render(german(customer_name="Anna", content=content))
    assert "Hallo Anna, noch da?" in named.text
    english = render(make_ctx(customer_name="  ", content=content))
    assert "Hallo, noch da?" in english.text  # "there" follows an English greeting only


@pytest.mark.parametrize(
    "written, wording, reads",
    [
        ("Hi {customer_name}, welcome back", "en_US", "Hi there, welcome back"),
        ("hello  {customer_name}!", "en_GB", "hello there!"),
        ("Hi {customer_name}, welcome back", "de_DE", "Hi, welcome back"),
        ("{customer_name}, your $84.00 order is waiting", "en_US", "Your $84.00 order is waiting"),
        ("  {customer_name}: ¿sigues ahí?", "es_ES", "¿sigues ahí?"),
        ("Thanks {customer_name}! Back soon", "en_US", "Thanks! Back soon"),
        ("We miss you, {customer_name}. Back soon", "en_US", "We miss you. Back soon"),
        ("Write {{customer_name}} to greet", "en_US", "Write {customer_name} to greet"),
    ],
)
def test_a_placeholder_with_no_name_is_written_around(written, wording, reads):
    content = dataclasses.replace(DEFAULT_CONTENT, subject=written, headline=written)
    email = render(make_ctx(customer_name=None, content=content, wording=wording))
    assert email.subject == reads and email.text.startswith(reads + "\n")
    named = render(make_ctx(customer_name="Ana", content=content, wording=wording))
    assert "Ana" in named.subject or "{{" in written


def test_a_hostile_merchant_name_in_the_translated_unsubscribe_line_is_escaped():
    attack = '<img src=x onerror="alert(1)">'
    ctx = german(brand=dataclasses.replace(make_ctx().brand, merchant_name=attack))
    email = render(ctx)
    assert attack not in email.html and "<img src=x" not in email.html
    assert f"keine E-Mails mehr von {attack}" in " ".join(Document(email.html).text.split())


def test_a_german_merchant_sends_a_shopper_the_email_with_german_fixed_lines(kit, db):
    db.get(SendingSettings, kit.merchant_id).locale = "de_DE"
    db.commit()
    session_id = kit.checkout("kunde@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    (received,) = kit.sink.messages
    html = received.message.get_body(("html",)).get_content()
    text = received.message.get_body(("plain",)).get_content()
    assert 'lang="de"' in html and "Gesamt" in html and ">Abmelden</a>" in html
    assert "Gesamt: " in text and "Abmelden: " in text and "gespeichert." in text
    assert "Total:" not in text and "Unsubscribe:" not in text


@pytest.mark.parametrize("language", sorted(set(WORDS) - {"en"}))
@pytest.mark.parametrize("step", [0, 1, 2])
def test_the_built_in_texts_exist_in_every_language_with_fixed_lines(language, step):
    texts = default_content(step, f"{language}_XX")
    assert texts != english_default(step) and problems(texts) == []
    for name in ("subject", "body", "footer"):
        assert "{merchant_name}" in getattr(texts, name), name
    assert "{customer_name}" in texts.body
    email = render(make_ctx(content=texts, customer_name=None, wording=language))
    assert "{" not in email.text and " ," not in email.text
    if step:  # a follow-up keeps the first email's button and footer
        first = default_content(0, language)
        assert (texts.button_label, texts.footer) == (first.button_label, first.footer)


def test_a_merchant_writing_in_german_starts_with_german_texts(client, db, login):
    owner = make_owner("Kaffee & Co", "inhaber@kaffee.example")
    login(client, "inhaber@kaffee.example", PASSWORD)
    settings = settings_service.settings_for(owner.merchant_id)
    assert email_design.default_design(settings, 0).content == english_default(0)
    settings.locale = "de_AT"
    db.commit()
    assert email_design.default_design(settings, 2).content.headline == "Eine letzte Erinnerung"
    page = client.get("/email/1").get_data(as_text=True)
    assert "Noch unentschlossen?" in page and "Zurück zum Warenkorb" in page
    assert "Still thinking it over?" not in page and "Gesamt" in page


def test_the_editor_preview_shows_how_the_email_reads_without_a_name(client, db, login):
    make_owner("Kaffee & Co", "inhaber@kaffee.example")
    login(client, "inhaber@kaffee.example", PASSWORD)
    page = client.get("/email/1").get_data(as_text=True)
    assert "A shopper whose checkout gave no name reads:" in page
    # The default greeting, the one line that changes, with its place in the email.
    assert '<li><span class="place">Email:</span> Hi there,</li>' in page
    fields = {
        "subject": "{customer_name}, your cart misses you",
        "preheader": "",
        "headline": "Come back",
        "body": "We kept it.",
        "button_label": "Back to it",
        "footer": "",
        "logo_url": "",
        "brand_color": "#4f46e5",
    }
    preview = post_form(client, "/email/1/preview", fields, page="/email/1")
    shown = preview.get_data(as_text=True)
    assert '<li><span class="place">Subject:</span> Your cart misses you</li>' in shown
    assert "Hi there," not in shown.split("gave no name")[1].split("</ul>")[0]
    fields["subject"] = "Your cart misses you"
    plain = post_form(client, "/email/1/preview", fields, page="/email/1")
    assert "gave no name" not in plain.get_data(as_text=True)


@pytest.mark.parametrize(
    "checkout, wording, day",
    [
        ("fr_FR", "fr_FR", "1er janvier 2027"),
        ("fr_CA", "fr_FR", "1er janvier 2027"),
        ("it_IT", "it_IT", "1° gennaio 2027"),
        ("ja_JP", "en_US", "January 1, 2027"),  # English sentence, English date
        ("en_US", "de_DE", "1. Januar 2027"),  # German sentence, German date
    ],
)
def test_the_saved_until_date_is_written_in_its_sentences_language(checkout, wording, day):
    expires = datetime(2027, 1, 1, 12, tzinfo=timezone.utc)
    email = render(make_ctx(locale=checkout, wording=wording, recovery_expires_at=expires))
    assert day in email.text
