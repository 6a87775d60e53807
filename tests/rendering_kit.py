"""Shared pieces for the email renderer tests: a context, a parsed document, inertness checks."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from html.parser import HTMLParser

from portal.mail.content import DEFAULT_CONTENT
from portal.mail.rendering import Brand, EmailContext, LineItem, RenderedEmail

BRAND = Brand(
    merchant_name="Acme Goods",
    postal_address="12 Main St\nSpringfield, IL 62701\nUSA",
    support_email="help@acme.test",
    shop_url="https://acme.test",
)


def make_ctx(**changes) -> EmailContext:
    """A known cart: two lines (three things), $84.00, the link expiring on December 21, 2026."""
    ctx = EmailContext(
        brand=BRAND,
        content=DEFAULT_CONTENT,
        customer_name="Jane Doe",
        items=(
            LineItem("Linen shirt", 1, 4800, "usd", "https://cdn.acme.test/shirt.png"),
            LineItem("Stoneware mug", 2, 3600, "usd"),
        ),
        total=8400,
        currency="usd",
        recovery_link="https://portal.test/r/tok123",
        recovery_expires_at=datetime(2026, 12, 21, 15, 30, tzinfo=timezone.utc),
        unsubscribe_url="https://portal.test/unsubscribe/u456",
    )
    return dataclasses.replace(ctx, **changes)


def with_content(**texts) -> EmailContext:
    return make_ctx(content=dataclasses.replace(DEFAULT_CONTENT, **texts))


def with_brand(**fields) -> EmailContext:
    return make_ctx(brand=dataclasses.replace(BRAND, **fields))


class Document(HTMLParser):
    """A document as a browser would read it: every start tag with its attributes decoded, the
    text with character references decoded, and each link with its text."""

    def __init__(self, document: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.links: list[tuple[dict[str, str], str]] = []
        self.chunks: list[str] = []
        self._link: list[str] | None = None
        self.feed(document)
        self.close()

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        self.tags.append((tag, attributes))
        if tag == "a":
            self._link = []
            self.links.append((attributes, ""))

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self.links[-1] = (self.links[-1][0], " ".join("".join(self._link).split()))
            self._link = None

    def handle_data(self, data):
        self.chunks.append(data)
        if self._link is not None:
            self._link.append(data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    def find(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]


def button(email: RenderedEmail, label: str = "Return to your cart") -> dict[str, str]:
    """The attributes of the call-to-action link."""
    found = [attrs for attrs, text in Document(email.html).links if text == label]
    assert len(found) == 1, f"{len(found)} links read {label!r}"
    return found[0]


def hrefs(email: RenderedEmail) -> list[str]:
    return [attrs.get("href", "") for attrs, _ in Document(email.html).links]


# Snapshots: the whole of both parts for a fixed cart


def snapshot_ctx(*, one_item: bool) -> EmailContext:
    """A fixed email: brand with a logo, three lines (one without a picture), a code; or one
    line, no code, no customer name. Nothing in it depends on the clock or the process."""
    items = (
        LineItem("Linen shirt, sand, size M", 1, 4800, "usd", "https://cdn.acme.test/shirt.png"),
        LineItem("Stoneware mug", 2, 3600, "usd", "https://cdn.acme.test/mug.png"),
        LineItem("Beeswax candle", 1, 1500, "usd"),
    )
    ctx = make_ctx(
        brand=dataclasses.replace(
            BRAND, color="#0f766e", logo_url="https://cdn.acme.test/logo.png"
        ),
        items=items,
        total=9900,
        promotion_code="THANKS-7K2Q",
        recovery_expires_at=datetime(2026, 12, 21, 23, 30, tzinfo=timezone.utc),
        zone="America/New_York",
    )
    if one_item:
        ctx = dataclasses.replace(
            ctx, items=items[:1], total=4800, promotion_code=None, customer_name=None
        )
    return ctx
