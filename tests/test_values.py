"""Amounts and dates in the shopper's language (Babel), and the locale an email is written for."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from portal.mail.values import (
    DEFAULT_LOCALE,
    email_locale,
    format_date,
    format_money,
    known_locale,
    locale_choices,
)

NBSP, NNBSP = "\xa0", "\u202f"  # Babel's no-break and narrow no-break spaces

HOSTILE = [
    "../../etc",
    "../../etc/passwd",
    "en_US\n",
    "en_150\n",
    "en_GB ",
    "x" * 100,
    "x" * 100_000,
    "",
    " ",
    "\x00",
    "en\x00",
    "con",
    "nul",
    "und",
    "root",
    "zz_ZZ",
    "İ",
    "/etc/localtime",
    "Europe/../../etc",
]


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        (4800, "usd", "en_US", "$48.00"),
        (4800, "USD", "en_US", "$48.00"),
        (123456, "usd", "en_US", "$1,234.56"),
        (5, "usd", "en_US", "$0.05"),
        (0, "usd", "en_US", "$0.00"),
        (-4800, "usd", "en_US", "-$48.00"),
        (4800, "eur", "fr_FR", f"48,00{NBSP}€"),
        (123456, "eur", "fr_FR", f"1{NNBSP}234,56{NBSP}€"),
        (-4800, "eur", "fr_FR", f"-48,00{NBSP}€"),
        (123456, "eur", "de_DE", f"1.234,56{NBSP}€"),
        (4800, "gbp", "en_GB", "£48.00"),
        (4800, "cad", "fr_CA", f"48,00{NBSP}$"),
        (4800, "usd", "es_419", "USD48.00"),
        (12345678, "inr", "hi_IN", "₹1,23,456.78"),
        # Zero-decimal: the amount is already whole yen (won, francs...).
        (1200, "jpy", "ja_JP", "￥1,200"),
        (1200, "jpy", "en_US", "¥1,200"),
        (50000, "krw", "ko_KR", "₩50,000"),
        (-1200, "jpy", "en_US", "-¥1,200"),
        # Three-decimal: thousandths, all three always shown.
        (1234, "kwd", "en_US", "KWD1.234"),
        (1000, "kwd", "en_US", "KWD1.000"),
        (-1234, "kwd", "de_DE", f"-1,234{NBSP}KWD"),
        (1234567, "bhd", "en_US", "BHD1,234.567"),
        # Unknown codes still show, with two decimals and the code for a symbol.
        (999, "xyz", "en_US", "XYZ9.99"),
        (999, "xyz", "fr_FR", f"9,99{NBSP}XYZ"),
        # Stripe counts ISK in hundredths; a whole amount is written the Icelandic way.
        (1000, "isk", "en_US", "ISK10"),
        (1050, "isk", "en_US", "ISK10.50"),
    ],
)
def test_format_money(amount, currency, locale, expected):
    assert format_money(amount, currency, locale) == expected


def test_format_money_defaults_to_american_english():
    assert DEFAULT_LOCALE == "en_US"
    assert format_money(4800, "usd") == "$48.00"
    assert format_money(4800, "eur") == "€48.00"


def test_format_money_accepts_stripes_spelling_and_languages_alone():
    assert format_money(4800, "eur", "fr-FR") == format_money(4800, "eur", "fr_FR")
    assert format_money(4800, "eur", "fr") == f"48,00{NBSP}€"
    assert format_money(4800, "usd", "en") == "$48.00"


@pytest.mark.parametrize("locale", HOSTILE + ["auto", None, 42, b"en_US", ["en"]])
def test_format_money_falls_back_to_the_default_for_any_locale_babel_does_not_know(locale):
    assert format_money(4800, "usd", locale) == "$48.00"
    assert format_money(1234, "kwd", locale) == "KWD1.234"


@pytest.mark.parametrize("currency", ["", "us", "€", "usdx", "../x", "XXX"])
def test_format_money_never_raises_for_an_odd_currency(currency):
    assert "48" in format_money(4800, currency, "en_US")


NIGHT = datetime(2026, 12, 21, 23, 30, tzinfo=timezone.utc)


@pytest.mark.parametrize(
    ("moment", "locale", "zone", "expected"),
    [
        (NIGHT, "en_US", "UTC", "December 21, 2026"),
        (NIGHT, "fr_FR", "UTC", "21 décembre 2026"),
        (NIGHT, "de_DE", "UTC", "21. Dezember 2026"),
        (NIGHT, "ja_JP", "UTC", "2026年12月21日"),
        (NIGHT, "es_419", "UTC", "21 de diciembre de 2026"),
        (NIGHT, "en_GB", "UTC", "21 December 2026"),
        # The calendar date where the shopper is: already the next day in Paris and Tokyo.
        (NIGHT, "en_US", "Europe/Paris", "December 22, 2026"),
        (NIGHT, "fr_FR", "Europe/Paris", "22 décembre 2026"),
        (NIGHT, "ja_JP", "Asia/Tokyo", "2026年12月22日"),
        (NIGHT, "en_US", "America/Los_Angeles", "December 21, 2026"),
        (
            datetime(2027, 1, 1, 3, 0, tzinfo=timezone.utc),
            "en_US",
            "America/New_York",
            "December 31, 2026",
        ),
        # Naive means UTC; an aware moment in another zone is converted first.
        (datetime(2026, 12, 21, 23, 30), "en_US", "UTC", "December 21, 2026"),
        (datetime(2026, 12, 21, 23, 30), "en_US", "Asia/Tokyo", "December 22, 2026"),
        (
            datetime(2026, 12, 22, 1, 0, tzinfo=timezone(timedelta(hours=5))),
            "en_US",
            "UTC",
            "December 21, 2026",
        ),
    ],
)
def test_format_date(moment, locale, zone, expected):
    assert format_date(moment, locale, zone) == expected


def test_format_date_defaults_to_american_english_in_utc():
    assert format_date(NIGHT) == "December 21, 2026"
    assert format_date(datetime(2026, 12, 21, 23, 30)) == "December 21, 2026"


@pytest.mark.parametrize("bad", HOSTILE + ["Mars/Olympus", "America", "auto", None, 7])
def test_format_date_never_raises_for_a_bad_locale_or_zone(bad):
    assert format_date(NIGHT, bad) == "December 21, 2026"
    assert format_date(NIGHT, "fr_FR", bad) == "21 décembre 2026"
    assert format_date(NIGHT, bad, bad) == "December 21, 2026"


@pytest.mark.parametrize(
    ("checkout", "expected"),
    [
        ("en", "en_US"),  # a bare language takes the fallback's region
        ("en-GB", "en_GB"),
        ("fr", "fr"),
        ("fr-CA", "fr_CA"),
        ("de", "de"),
        ("es", "es"),
        ("es-419", "es_419"),
        ("pt-BR", "pt_BR"),
        ("nb", "nb"),
        ("fil", "fil"),
        ("ja", "ja"),
        ("zh", "zh"),
        ("zh-HK", "zh_Hant_HK"),
        ("zh-TW", "zh_Hant_TW"),
    ],
)
def test_email_locale_maps_stripes_checkout_languages(checkout, expected):
    assert email_locale(checkout) == expected
    assert known_locale(checkout) and known_locale(expected)


def test_every_checkout_language_stripe_documents_is_known_to_babel():
    stripe_locales = (
        "bg cs da de el en en-GB es es-419 et fi fil fr fr-CA hr hu id it ja ko lt lv ms mt nb "
        "nl pl pt pt-BR ro ru sk sl sv th tr vi zh zh-HK zh-TW"
    ).split()
    assert [name for name in stripe_locales if not known_locale(name)] == []


@pytest.mark.parametrize("checkout", ["auto", None, "", "xx", "tlh", "en_ZZ_ZZ_ZZ_ZZ", *HOSTILE])
def test_email_locale_falls_back_to_the_merchants_then_the_default(checkout):
    assert email_locale(checkout) == DEFAULT_LOCALE
    assert email_locale(checkout, "en_GB") == "en_GB"
    assert email_locale(checkout, "fr-CA") == "fr_CA"


@pytest.mark.parametrize("fallback", [None, "", "auto", "xx", *HOSTILE])
def test_a_fallback_babel_does_not_know_means_the_default(fallback):
    assert email_locale(None, fallback) == DEFAULT_LOCALE
    assert email_locale("de", fallback) == "de"


def test_a_bare_language_takes_the_merchants_region_when_it_is_the_same_language():
    assert email_locale("en", "en_GB") == "en_GB"
    assert email_locale("fr", "fr_CA") == "fr_CA"
    assert email_locale("fr", "en_GB") == "fr"
    assert email_locale("en-AU", "en_GB") == "en_AU"
    assert email_locale("zh", "zh_Hant_TW") == "zh"


def test_known_locale():
    assert known_locale("en_US") and known_locale("fr-CA") and known_locale("es_419")
    for value in ["auto", "xx", "en_US\n", *HOSTILE, None, 3]:
        assert not known_locale(value), value


def test_locale_choices_are_language_territory_ids_named_in_english_and_sorted():
    choices = locale_choices()
    ids = [name for name, _ in choices]
    assert ("en_US", "English (United States)") in choices
    assert ("en_GB", "English (United Kingdom)") in choices
    assert ("fr_CA", "French (Canada)") in choices
    assert ("es_419", "Spanish (Latin America)") in choices
    assert len(ids) == len(set(ids)) > 300
    assert all(known_locale(name) and "_" in name for name in ids)
    assert not any(name.count("_") > 1 for name in ids)  # no scripts, no variants
    shown = [label.casefold() for _, label in choices]
    assert shown == sorted(shown)
    choices.clear()  # a caller's copy: the next caller still gets them all
    assert len(locale_choices()) == len(ids)


def test_an_hour_of_thousands_of_digits_is_no_hour_and_no_error():
    from portal.web.forms import hour

    assert hour("7") == 7 and hour("23") == 23
    assert hour("9" * 5000) is None and hour("007") is None and hour("٧") is None
