"""The one email renderer: preview, test send and real send all call `render`.

Pure: data in, a subject, preheader, HTML part and text part out. No database, network or
request. Merchant texts carry placeholders from a fixed list; they are filled in by a small
routine of our own (never `str.format`, which would let `{merchant_name.__class__}` reach
attributes), into plain text first, and the HTML template escapes everything it places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from portal.mail.values import (
    DEFAULT_COLOR,
    EMAIL,
    clean_lines,
    format_date,
    format_money,
    one_line,
    paragraphs,
    safe_color,
    safe_image_url,
    safe_link,
    text_color_on,
    truncate,
)


TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "mail"
PLACEHOLDERS = (
    "merchant_name",
    "customer_name",
    "cart_total",
    "recovery_link_expires",
    "promotion_code",
)
SUBJECT_MAX = 200
ANONYMOUS_CUSTOMER = "there"  # reads right in "Hi {customer_name},"


# One pass over a text: an escaped brace, or a single-braced name (anything up to the close).
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


@dataclass(frozen=True)
class LineItem:
    name: str
    quantity: int
    amount: int  # line total in minor units
    currency: str
    image_url: str | None = None


@dataclass(frozen=True)
class Brand:
    merchant_name: str
    postal_address: str  # multi-line; the law wants it in every promotional email
    color: str = DEFAULT_COLOR
    logo_url: str | None = None
    support_email: str | None = None
    shop_url: str | None = None


@dataclass(frozen=True)
class Content:
    """The merchant-editable texts, with placeholders; blank lines separate `body` paragraphs."""

    subject: str
    preheader: str
    headline: str
    body: str
    button_label: str
    footer: str


DEFAULT_CONTENT = Content(
    subject="You left something in your cart at {merchant_name}",
    preheader="We saved your cart, so you can pick up right where you left off.",
    headline="Still thinking it over?",
    body=(
        "Hi {customer_name},\n\n"
        "You left a few things in your cart at {merchant_name}. We kept them for you, "
        "so finishing your order takes just a click.\n\n"
        "Your cart comes to {cart_total}."
    ),
    button_label="Return to your cart",
    footer="You're receiving this email because you asked {merchant_name} to keep you "
    "updated when you checked out.",
)


@dataclass(frozen=True)
class EmailContext:
    brand: Brand
    content: Content
    customer_name: str | None
    items: tuple[LineItem, ...]
    total: int
    currency: str
    recovery_link: str
    recovery_expires_at: datetime
    unsubscribe_url: str
    promotion_code: str | None = None


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str


def render(ctx: EmailContext) -> RenderedEmail:
    """The complete email for `ctx`: a one-line subject of at most 200 characters, and HTML and
    text parts carrying the same content, links written out, every outside value escaped."""
    values = _placeholder_values(ctx)
    subject = truncate(one_line(_fill(ctx.content.subject, values)), SUBJECT_MAX)
    preheader = one_line(_fill(ctx.content.preheader, values))
    view = _view(ctx, values, subject, preheader)
    return RenderedEmail(
        subject=subject,
        preheader=preheader,
        html=_env().get_template("recovery.html").render(view),
        text=_env().get_template("recovery.txt").render(view),
    )


def check_placeholders(text: str) -> list[str]:
    """The unknown placeholder names used in `text` (as written between the braces, each once,
    in order of appearance); [] when every placeholder is known. "{{" and "}}" are literal braces."""
    unknown: list[str] = []
    for match in _TOKEN.finditer(text):
        name = match.group(1)
        if name is not None and name not in PLACEHOLDERS and name not in unknown:
            unknown.append(name)
    return unknown


def _fill(text: str, values: dict[str, str]) -> str:
    """`text` with each known {name} replaced by its value, "{{"/"}}" turned into single braces
    and anything else left exactly as written. Values are plain strings: nothing is evaluated."""

    def replace(match: re.Match) -> str:
        token, name = match.group(0), match.group(1)
        if name is None:
            return token[0]
        return values.get(name, token)

    return _TOKEN.sub(replace, text)


def sample_context(
    brand: Brand, content: Content = DEFAULT_CONTENT, *, base_url: str = "https://example.com"
) -> EmailContext:
    """A realistic cart (three items, one bought twice) for previews and test sends."""
    base = base_url.rstrip("/")
    items = (
        LineItem("Linen shirt, sand, size M", 1, 4800, "usd"),
        LineItem("Stoneware mug", 2, 3600, "usd"),
        LineItem("Organic cotton tote bag", 1, 2200, "usd"),
    )
    return EmailContext(
        brand=brand,
        content=content,
        customer_name="Alex",
        items=items,
        total=sum(item.amount for item in items),
        currency="usd",
        recovery_link=f"{base}/r/sample",
        recovery_expires_at=datetime.now(timezone.utc) + timedelta(days=30),
        unsubscribe_url=f"{base}/unsubscribe/sample",
    )


def _placeholder_values(ctx: EmailContext) -> dict[str, str]:
    # Outside values go through _one_line: a name from Stripe must not add lines to a subject.
    return {
        "merchant_name": one_line(ctx.brand.merchant_name),
        "customer_name": one_line(ctx.customer_name or "") or ANONYMOUS_CUSTOMER,
        "cart_total": format_money(ctx.total, ctx.currency),
        "recovery_link_expires": format_date(ctx.recovery_expires_at),
        "promotion_code": one_line(ctx.promotion_code or ""),
    }


def _view(ctx: EmailContext, values: dict[str, str], subject: str, preheader: str) -> dict:
    """Everything the templates show, already decided: they only lay it out."""
    brand, content = ctx.brand, ctx.content
    color = safe_color(brand.color)
    items = [
        {
            "name": one_line(item.name),
            "quantity": item.quantity,
            "amount": format_money(item.amount, item.currency),
            "image_url": safe_image_url(item.image_url),
        }
        for item in ctx.items
    ]
    support = one_line(brand.support_email or "")
    return {
        "subject": subject,
        "preheader": preheader,
        "merchant_name": values["merchant_name"],
        "logo_url": safe_image_url(brand.logo_url),
        "shop_url": safe_link(brand.shop_url),
        "color": color,
        "button_text_color": text_color_on(color),
        "headline": one_line(_fill(content.headline, values)),
        "paragraphs": paragraphs(_fill(content.body, values)),
        "items": items,
        "show_images": any(item["image_url"] for item in items),
        "total": values["cart_total"],
        "button_label": one_line(_fill(content.button_label, values)),
        "recovery_link": ctx.recovery_link,
        "promotion_code": values["promotion_code"],
        "expires": values["recovery_link_expires"],
        "footer": paragraphs(_fill(content.footer, values)),
        "address_lines": clean_lines(brand.postal_address),
        "support_email": support if EMAIL.fullmatch(support) else None,
        "unsubscribe_url": ctx.unsubscribe_url,
    }


@cache
def _env() -> Environment:
    # Autoescape by file name: HTML escaped, the text part left as written.
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
