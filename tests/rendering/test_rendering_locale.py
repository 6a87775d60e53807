"""Money and dates in rendered emails follow the shopper's language and the merchant's zone."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timezone

import pytest

from portal.mail.content import DEFAULT_CONTENT
from portal.mail.rendering import EmailContext, LineItem, render
from rendering_kit import Document, make_ctx


# Money and dates in the shopper's language


def euros(**changes) -> EmailContext:
    return make_ctx(
        items=(LineItem("Chemise en lin", 1, 4800, "eur", "https://cdn.acme.test/shirt.png"),),
        total=4800,
        currency="eur",
        **changes,
    )


def test_money_and_dates_follow_a_french_shopper():
    email = render(
        euros(locale="fr_FR", content=dataclasses.replace(DEFAULT_CONTENT, body="{cart_total}"))
    )
    for part in (email.text, Document(email.html).text):
        assert re.search(r"48,00\s€", part), part
        assert "jusqu" not in part  # the words stay the design's (English here)...
        # ...and a date is written in the language of its sentence: the English one
        assert "December 21, 2026" in part and "décembre" not in part
        assert "$" not in part and "48.00" not in part


def test_yen_have_no_decimals_in_japanese():
    email = render(
        make_ctx(
            items=(LineItem("Tenugui", 2, 4800, "jpy"),),
            total=4800,
            currency="jpy",
            locale="ja_JP",
        )
    )
    for part in (email.text, Document(email.html).text):
        assert re.search(r"[¥￥]4,800", part), part
        assert "4,800.00" not in part and "48.00" not in part and "December 21, 2026" in part


def test_dinars_keep_three_decimals():
    email = render(
        make_ctx(items=(LineItem("Dates", 1, 5124, "kwd"),), total=5124, currency="kwd")
    )
    for part in (email.text, Document(email.html).text):
        assert re.search(r"KWD\s?5\.124", part), part
        assert "51.24" not in part


@pytest.mark.parametrize(
    "zone, locale, day",
    [
        ("America/Los_Angeles", "en_US", "December 21, 2026"),
        ("Asia/Tokyo", "en_US", "December 22, 2026"),
        ("UTC", "en_US", "December 21, 2026"),
        ("Asia/Tokyo", "fr_FR", "December 22, 2026"),  # in its English sentence's language
        ("Not/AZone", "en_US", "December 21, 2026"),  # unknown: UTC, never an error
    ],
)
def test_the_expiry_date_is_the_date_in_the_merchants_time_zone(zone, locale, day):
    email = render(
        make_ctx(
            recovery_expires_at=datetime(2026, 12, 21, 23, 30, tzinfo=timezone.utc),
            zone=zone,
            locale=locale,
        )
    )
    assert f"until {day}." in email.text
    assert f"until {day}." in " ".join(Document(email.html).text.split())
