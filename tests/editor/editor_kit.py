"""Shared pieces for the email editor tests: valid content, saved versions, test sends, previews."""

from __future__ import annotations

import html
import re
from dataclasses import asdict

from sqlalchemy import select

from portal.mail.content import DEFAULT_CONTENT
from portal.models import EmailVersion, TestSend

TEXT_FIELDS = ("subject", "preheader", "headline", "body", "button_label", "footer")

VALID = {
    **asdict(DEFAULT_CONTENT),
    "subject": "Your cart at {merchant_name} misses you",
    "logo_url": "",
    "brand_color": "#0f7b4b",
}
HTMX = {"HX-Request": "true"}


def versions(db, merchant_id: int) -> list[EmailVersion]:
    db.expire_all()
    return list(
        db.scalars(
            select(EmailVersion)
            .where(EmailVersion.merchant_id == merchant_id)
            .order_by(EmailVersion.number)
        )
    )


def sent_tests(db, merchant_id: int) -> list[TestSend]:
    db.expire_all()
    return list(db.scalars(select(TestSend).where(TestSend.merchant_id == merchant_id)))


def frames(page: str) -> dict[str, str]:
    """Each preview iframe's email HTML (its srcdoc, unescaped), by its class."""
    found = re.findall(
        r'<iframe class="(frame-\w+)"[^>]*sandbox="allow-same-origin"[^>]*srcdoc="([^"]*)"', page
    )
    return {name: html.unescape(doc) for name, doc in found}


def text_part(page: str) -> str:
    match = re.search(r'<pre class="plain-text">(.*?)</pre>', page, re.S)
    assert match, "no plain-text part"
    return html.unescape(match.group(1))
