"""The one email renderer: preview, test send and real send all call `render`.

Pure: data in, a subject, preheader, HTML part and text part out. No database, network or
request. Merchant texts carry placeholders from a fixed list; they are filled in by a small
routine of our own (never `str.format`, which would let `{merchant_name.__class__}` reach
attributes), into plain text first, and the HTML template escapes everything it places.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from portal.mail import layout
from portal.mail.words import ENGLISH, Words, language_of, words_for
from portal.mail.content import (
    PLACEHOLDERS,
    Content,
    fill as _fill,
)

from portal.mail.values import (
    DEFAULT_COLOR,
    DEFAULT_LOCALE,
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
SUBJECT_MAX = 200
ITEM_NAME_MAX = 100  # a longer product name is cut: it reads better, and keeps the email small
# After the preheader, invisible spacers keep clients from showing the body's first words.
PREHEADER_PAD = Markup("&#847;&zwnj;&nbsp;" * 40)
# {customer_name} when Stripe has no name (never "{{customer_name}}", a literal): after "Hi"
# it is the language's word for anyone ("Hi there,"); opening a line it goes with the comma
# after it ("{customer_name}, your cart" -> "Your cart"); anywhere else it goes with the
# spaces or comma before it ("Thanks {customer_name}!" -> "Thanks!", "Hallo {customer_name},"
# -> "Hallo,", "We miss you, {customer_name}." -> "We miss you.").
_NAME = r"(?<!\{)\{customer_name\}(?!\})"
GREETED = re.compile(rf"(?i)\b(hi|hello|hey|dear)[ \t]+{_NAME}")
LEADING = re.compile(rf"^[ \t]*{_NAME}[ \t]*[,:;!]?[ \t]*(\S?)", re.MULTILINE)
NAMELESS = re.compile(rf"[ \t]*,?[ \t]*{_NAME}")


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
    locale: str = DEFAULT_LOCALE  # amounts and dates are written as this language does
    # The email's fixed lines are in this locale's language: the merchant's, as their texts are.
    wording: str = DEFAULT_LOCALE
    zone: str = "UTC"  # the recovery link's expiry date is the date in this time zone


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    preheader: str
    html: str
    text: str


def render(ctx: EmailContext) -> RenderedEmail:
    """The complete email for `ctx`: a one-line subject of at most 200 characters, and HTML and
    text parts carrying the same content, links written out, every outside value escaped. The
    HTML's layout is compiled once per design (layout.py); this fills in the send's values.
    The fixed lines are in the language of `ctx.wording` (English when there is no table)."""
    words = words_for(ctx.wording)
    ctx = _greeting(ctx, words)
    values = _placeholder_values(ctx, words)
    subject = truncate(one_line(_fill(ctx.content.subject, values)), SUBJECT_MAX)
    preheader = one_line(_fill(ctx.content.preheader, values))
    items = _items(ctx, words)
    brand = _brand_links(ctx.brand)
    slots = {
        **values,
        **{name: value or "" for name, value in brand.items()},
        "subject": subject,
        "preheader": Markup(escape(preheader)) + PREHEADER_PAD,
        "items_title": items_title(ctx.items, words),
        "cart_rows": layout.item_rows(items, values["cart_total"], words.total),
        "recovery_link": ctx.recovery_link,
        "unsubscribe_url": ctx.unsubscribe_url,
    }
    html = layout.fill(layout.compile_layout(_design(ctx, words)), slots)
    view = {**_text_view(ctx, values, words), "items": items, "subject": subject}
    return RenderedEmail(
        subject=subject,
        preheader=preheader,
        html=html,
        text=_env().get_template("recovery.txt").render(view, items_title=slots["items_title"]),
    )


def items_title(items: tuple[LineItem, ...], words: Words = ENGLISH) -> str:
    """The line above the cart: it reads right for one thing and for many."""
    count = sum(max(item.quantity, 1) for item in items)
    return words.one_item if count == 1 else words.many_items.replace("{count}", str(count))


def _greeting(ctx: EmailContext, words: Words) -> EmailContext:
    """`ctx` as is when Stripe gave a name; else its texts without {customer_name}, each
    written around its absence (see GREETED, LEADING and NAMELESS)."""
    if one_line(ctx.customer_name or ""):
        return ctx
    texts = {name: _nameless(text, words) for name, text in vars(ctx.content).items()}
    return replace(ctx, content=replace(ctx.content, **texts))


def _nameless(text: str, words: Words) -> str:
    if words.anonymous:
        text = GREETED.sub(lambda m: f"{m.group(1)} {words.anonymous}", text)
    text = LEADING.sub(lambda m: m.group(1).upper(), text)
    return NAMELESS.sub("", text)


def _placeholder_values(ctx: EmailContext, words: Words) -> dict[str, str]:
    # Outside values go through one_line: a name from Stripe must not add lines to a subject.
    return {
        "merchant_name": one_line(ctx.brand.merchant_name),
        "customer_name": one_line(ctx.customer_name or "") or words.anonymous,
        "cart_total": format_money(ctx.total, ctx.currency, ctx.locale),
        "recovery_link_expires": format_date(
            ctx.recovery_expires_at, _date_locale(ctx, words), ctx.zone
        ),
        "promotion_code": one_line(ctx.promotion_code or ""),
    }


def _date_locale(ctx: EmailContext, words: Words) -> str:
    """The date is written in the language of the sentence around it: the checkout's locale
    when it is that language, else the merchant's, else English."""
    found = (loc for loc in (ctx.locale, ctx.wording) if language_of(loc) == words.language)
    return next(found, DEFAULT_LOCALE)


def _design(ctx: EmailContext, words: Words) -> tuple[tuple[str, object], ...]:
    """What the compiled layout depends on, and nothing that changes per send: texts keep
    markers where a send's values go (and only a placeholder of the fixed list becomes one).
    Hashable, so the layout is compiled once per design."""
    content = ctx.content
    marks = {name: layout.MARKS[name] for name in PLACEHOLDERS}
    color = safe_color(ctx.brand.color)
    links = _brand_links(ctx.brand)
    view = {
        # Present or not shapes the layout; the values go in per send (they sit in attributes).
        **{name: layout.MARKS[name] if value else None for name, value in links.items()},
        "merchant_name": layout.MARKS["merchant_name"],
        "color": color,
        "button_text_color": text_color_on(color),
        "headline": one_line(_fill(content.headline, marks)),
        "paragraphs": _frozen(paragraphs(_fill(content.body, marks))),
        "has_items": bool(ctx.items),
        "button_label": one_line(_fill(content.button_label, marks)),
        "promotion": bool(ctx.promotion_code),
        "footer": _frozen(paragraphs(_fill(content.footer, marks))),
        "address_lines": tuple(clean_lines(ctx.brand.postal_address)),
        **_fixed_lines(words),
    }
    return tuple(sorted(view.items()))


def _fixed_lines(words: Words) -> dict[str, object]:
    """The layout's fixed lines in `words`' language, the send's values as markers."""
    code_before, _, code_after = words.code.partition("{code}")
    merchant = layout.MARKS["merchant_name"]
    return {
        "lang": words.language,
        "code_words": (code_before, code_after),
        "saved_until": words.saved_until.replace("{date}", layout.MARKS["recovery_link_expires"]),
        "questions": words.questions,
        "unsubscribe": tuple(part.replace("{merchant}", merchant) for part in words.unsubscribe),
    }


def _brand_links(brand: Brand) -> dict[str, str | None]:
    """The brand's logo, shop link and support address where a client may be given them."""
    support = one_line(brand.support_email or "")
    return {
        "logo_url": safe_image_url(brand.logo_url),
        "shop_url": safe_link(brand.shop_url),
        "support_email": support if EMAIL.fullmatch(support) else None,
    }


def _text_view(ctx: EmailContext, values: dict[str, str], words: Words) -> dict:
    """The plain-text part's view: the same content as the HTML, filled for this send."""
    brand, content = ctx.brand, ctx.content
    return {
        "merchant_name": values["merchant_name"],
        "headline": one_line(_fill(content.headline, values)),
        "paragraphs": paragraphs(_fill(content.body, values)),
        "total": values["cart_total"],
        "button_label": one_line(_fill(content.button_label, values)),
        "recovery_link": ctx.recovery_link,
        "promotion_code": values["promotion_code"],
        "footer": paragraphs(_fill(content.footer, values)),
        "address_lines": clean_lines(brand.postal_address),
        "support_email": _brand_links(brand)["support_email"],
        "unsubscribe_url": ctx.unsubscribe_url,
        "words": words,
        "code_sentence": words.code.replace("{code}", values["promotion_code"]),
        "saved_until": words.saved_until.replace("{date}", values["recovery_link_expires"]),
    }


def _items(ctx: EmailContext, words: Words) -> list[dict]:
    return [
        {
            "name": truncate(one_line(item.name), ITEM_NAME_MAX),
            "quantity": words.quantity.replace("{count}", str(item.quantity)),
            "quantity_text": words.quantity_text.replace("{count}", str(item.quantity)),
            "amount": format_money(item.amount, item.currency, ctx.locale),
            "image_url": safe_image_url(item.image_url),
        }
        for item in ctx.items
    ]


def _frozen(blocks: list[list[str]]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(lines) for lines in blocks)


@cache
def _env() -> Environment:
    # The text part only: autoescape off, values were cleaned above.
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=False,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
