"""The email renderer: placeholders, escaping, brand rules, layout and both parts; pure unit tests."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from markupsafe import escape

from portal.mail.rendering import (
    DEFAULT_CONTENT,
    PLACEHOLDERS,
    Brand,
    Content,
    EmailContext,
    LineItem,
    RenderedEmail,
    check_placeholders,
    format_money,
    render,
    sample_context,
)

BRAND = Brand(
    merchant_name="Acme Goods",
    postal_address="12 Main St\nSpringfield, IL 62701\nUSA",
    support_email="help@acme.test",
    shop_url="https://acme.test",
)


def make_ctx(**changes) -> EmailContext:
    """A known cart: two items, $84.00, the link expiring on December 21, 2026."""
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


class Elements(HTMLParser):
    """Every start tag of a document as (tag, attributes decoded as a browser would)."""

    def __init__(self, document: str):
        super().__init__(convert_charrefs=True)
        self.tags = []
        self.feed(document)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]


def button(email: RenderedEmail) -> dict[str, str]:
    """The attributes of the call-to-action link (the <a> around the default button label)."""
    match = re.search(r'<a href="[^"]*"[^>]*>Return to your cart</a>', email.html)
    assert match, "no button"
    return Elements(match.group(0)).find("a")[0]


def test_placeholders_are_filled_in_every_part():
    content = Content(
        subject="{customer_name}, your {merchant_name} cart",
        preheader="Worth {cart_total}",
        headline="Hello {customer_name}",
        body="Total {cart_total}, link valid until {recovery_link_expires}.\n\nCode: [{promotion_code}]",
        button_label="Back to {merchant_name}",
        footer="Sent by {merchant_name}",
    )
    email = render(make_ctx(content=content, promotion_code="SAVE10"))
    assert email.subject == "Jane Doe, your Acme Goods cart"
    assert email.preheader == "Worth $84.00"
    for part in (email.html, email.text):
        for filled in (
            "Hello Jane Doe",
            "Total $84.00, link valid until December 21, 2026.",
            "Code: [SAVE10]",
            "Back to Acme Goods",
            "Sent by Acme Goods",
        ):
            assert filled in part
        assert not re.search(r"\{[a-z_]+\}", part)


@pytest.mark.parametrize("name", [None, "", "  \n "])
def test_unknown_customer_is_greeted_as_there_and_missing_code_is_empty(name):
    email = render(
        make_ctx(
            customer_name=name,
            content=dataclasses.replace(
                DEFAULT_CONTENT, body="Hi {customer_name}! [{promotion_code}]"
            ),
        )
    )
    assert "Hi there! []" in email.text and "Hi there! []" in email.html


def test_unknown_placeholders_are_left_as_written_and_reported_once():
    text = "Hello {first_name}, use {coupon} at {merchant_name}, {coupon}"
    assert check_placeholders(text) == ["first_name", "coupon"]
    email = render(with_content(body=text, subject=text))
    assert email.subject == "Hello {first_name}, use {coupon} at Acme Goods, {coupon}"
    assert email.subject in email.text and email.subject in email.html
    assert check_placeholders(" ".join("{%s}" % name for name in PLACEHOLDERS)) == []
    assert check_placeholders("no placeholders at all") == []


def test_escaped_braces_are_literal_and_not_reported():
    text = "Use {{merchant_name}} for {merchant_name}; a set: {{1, 2}}"
    assert check_placeholders(text) == []
    assert (
        "Use {merchant_name} for Acme Goods; a set: {1, 2}" in render(with_content(body=text)).text
    )
    assert "{Acme Goods}" in render(with_content(body="{{{merchant_name}}}")).text
    shopper = make_ctx(
        customer_name="{merchant_name}",
        content=dataclasses.replace(DEFAULT_CONTENT, body="Hi {customer_name}"),
    )
    assert "Hi {merchant_name}" in render(shopper).text  # a filled-in value is never scanned again


@pytest.mark.parametrize(
    "attack",
    [
        "{merchant_name.__class__}",
        "{merchant_name.__class__.__mro__}",
        "{0}",
        "{}",
        "{merchant_name[0]}",
        "{merchant_name!r}",
        "{merchant_name:>30}",
        "{__import__}",
    ],
)
def test_format_tricks_are_never_evaluated(attack):
    assert check_placeholders(attack) == [attack[1:-1]]
    email = render(with_content(subject=attack, body=attack, headline=attack))
    assert email.subject == attack
    assert attack in email.text and str(escape(attack)) in email.html
    for leak in ("<class", "str'>", "'Acme Goods'", "builtin"):
        assert leak not in email.text and leak not in email.subject


def test_merchant_name_is_escaped_in_html_and_plain_in_text():
    email = render(with_brand(merchant_name="<script>alert(1)</script>"))
    assert "<script" not in email.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in email.html
    assert (
        "<script>alert(1)</script>" in email.text and "<script>alert(1)</script>" in email.subject
    )


def test_item_names_are_escaped_in_text_and_attributes():
    name = 'Shirt "XL" & <b>more</b>'
    email = render(
        make_ctx(items=(LineItem(name, 1, 4800, "usd", "https://cdn.acme.test/a.png"),))
    )
    assert "Shirt &#34;XL&#34; &amp; &lt;b&gt;more&lt;/b&gt;" in email.html
    assert "<b>more" not in email.html
    image = next(img for img in Elements(email.html).find("img") if "cdn.acme.test" in img["src"])
    assert image["alt"] == name  # the escaped attribute decodes back to exactly the name
    assert f"- {name} (qty 1): $48.00" in email.text


def test_urls_in_attributes_are_escaped():
    link = 'https://portal.test/r/a"onmouseover="x&y=1'
    email = render(make_ctx(recovery_link=link, unsubscribe_url=link + "&u=1"))
    assert 'onmouseover="x' not in email.html
    assert button(email)["href"] == link
    assert link + "&u=1" in [a["href"] for a in Elements(email.html).find("a")]


def test_address_and_texts_are_escaped():
    email = render(
        make_ctx(
            brand=dataclasses.replace(
                BRAND, postal_address="<img src=x onerror=alert(1)>\nSpringfield"
            ),
            content=dataclasses.replace(
                DEFAULT_CONTENT, footer="<a href='evil'>x</a>", headline="<h2>hi</h2>"
            ),
        )
    )
    for raw in ("<img src=x", "<a href='evil'>", "<h2>"):
        assert raw not in email.html
    assert "&lt;img src=x onerror=alert(1)&gt;" in email.html


@pytest.mark.parametrize(
    "subject",
    [
        "Hello\r\nBcc: victim@example.com",
        "Hello\nthere",
        "Hello\tthere\x00\x1b[31m",
        "Hello\u2028there",
    ],
)
def test_subject_is_one_clean_line(subject):
    email = render(with_content(subject=subject))
    assert not re.search(r"[\x00-\x1f\x7f\u2028\u2029]", email.subject)
    assert email.subject.startswith("Hello ") and "  " not in email.subject


def test_placeholder_values_cannot_break_the_subject():
    email = render(
        make_ctx(
            customer_name="Jane\r\nBcc: x@example.com",
            content=dataclasses.replace(DEFAULT_CONTENT, subject="Hi {customer_name}"),
        )
    )
    assert email.subject == "Hi Jane Bcc: x@example.com"


def test_long_subject_is_cut_to_200_characters():
    subject = render(with_content(subject="word " * 100)).subject
    assert len(subject) <= 200 and subject.endswith("…")


@pytest.mark.parametrize(
    "in_html, in_text",
    [
        (
            '<img src="https://cdn.acme.test/shirt.png" alt="Linen shirt"',
            "- Linen shirt (qty 1): $48.00",
        ),
        ("Qty 2", "- Stoneware mug (qty 2): $36.00"),
        ("$84.00</td>", "Total: $84.00"),
        ("until December 21, 2026.", "until December 21, 2026."),
        ("12 Main St<br>Springfield, IL 62701<br>USA", "12 Main St\nSpringfield, IL 62701\nUSA"),
        ('href="mailto:help@acme.test"', "help@acme.test"),
        (
            'href="https://portal.test/unsubscribe/u456"',
            "Unsubscribe: https://portal.test/unsubscribe/u456",
        ),
    ],
)
def test_both_parts_carry_the_cart_the_expiry_the_address_and_the_unsubscribe_link(
    in_html, in_text
):
    email = render(make_ctx())
    assert in_html in email.html and in_text in email.text


def test_button_and_visible_unsubscribe_link_point_where_they_should():
    email = render(make_ctx())
    assert button(email)["href"] == "https://portal.test/r/tok123"
    assert "Return to your cart:\nhttps://portal.test/r/tok123" in email.text
    assert re.search(
        r'<a href="https://portal.test/unsubscribe/u456"[^>]*>Unsubscribe</a>', email.html
    )


def test_promotion_code_shown_only_when_given():
    without = render(make_ctx())
    assert "Use code" not in without.html and "Use code" not in without.text
    given = render(make_ctx(promotion_code="SAVE10"))
    assert "Use code SAVE10 at checkout." in given.text
    assert re.search(r"Use code <strong[^>]*>SAVE10</strong>", given.html)


def test_body_paragraphs_and_line_breaks():
    email = render(with_content(body="First line\r\nsecond line\n\n\n  \nNext paragraph"))
    assert (
        "First line<br>second line</p>" in email.html
        and email.html.count("Next paragraph</p>") == 1
    )
    assert "First line\nsecond line\n\nNext paragraph" in email.text


def test_expiry_is_the_utc_date_and_a_naive_time_counts_as_utc():
    late_in_new_york = datetime(2026, 12, 21, 22, 0, tzinfo=timezone(timedelta(hours=-5)))
    assert (
        "until December 22, 2026." in render(make_ctx(recovery_expires_at=late_in_new_york)).text
    )
    assert (
        "until March 1, 2027."
        in render(make_ctx(recovery_expires_at=datetime(2027, 3, 1, 23))).text
    )


def test_empty_cart_renders_without_an_item_list():
    email = render(make_ctx(items=(), total=0))
    assert "Your cart:" not in email.text and "Qty" not in email.html
    assert button(email)["href"] == "https://portal.test/r/tok123"


@pytest.mark.parametrize(
    "color", ["red", "#fff", "#12345g", "#123456;background:url(x)", "", "4f46e5"]
)
def test_bad_brand_colour_falls_back(color):
    email = render(with_brand(color=color))
    assert "background-color:#4f46e5" in email.html
    assert "url(x)" not in email.html and "red;" not in email.html


@pytest.mark.parametrize(
    "color, text",
    [
        ("#4f46e5", "#ffffff"),
        ("#000000", "#ffffff"),
        ("#b91c1c", "#ffffff"),
        ("#fde047", "#111827"),
        ("#ffffff", "#111827"),
        ("#A7F3D0", "#111827"),
    ],
)
def test_button_takes_the_brand_colour_with_readable_text(color, text):
    email = render(with_brand(color=color))
    assert f"background-color:{color.lower()};" in email.html
    assert f"color:{text};" in button(email)["style"]


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "http://cdn.acme.test/logo.png",
        "data:image/png;base64,AAAA",
        "//cdn.acme.test/logo.png",
        "/logo.png",
        "https:///nohost.png",
        "https://cdn.acme.test/a b.png",
        "https://[::1/logo.png",
        "https://cdn.acme.test/\u200blogo.png",
    ],
)
def test_unsafe_logo_url_is_not_used(url):
    email = render(with_brand(logo_url=url))
    assert url not in email.html and str(escape(url)) not in email.html
    assert [img["src"] for img in Elements(email.html).find("img")] == [
        "https://cdn.acme.test/shirt.png"
    ]
    assert ">Acme Goods</a>" in email.html  # the name stands in for the logo


@pytest.mark.parametrize(
    "url", ["https://cdn.acme.test/logo.png", "http://localhost:5000/logo.png"]
)
def test_https_logo_url_is_used_and_plain_http_only_on_localhost(url):
    assert url in [
        img["src"] for img in Elements(render(with_brand(logo_url=url)).html).find("img")
    ]


def test_unsafe_item_image_and_shop_url_are_dropped():
    email = render(
        make_ctx(
            brand=dataclasses.replace(BRAND, shop_url="javascript:alert(2)"),
            items=(LineItem("Hat", 1, 100, "usd", "javascript:alert(1)"),),
        )
    )
    assert "javascript" not in email.html
    assert Elements(email.html).find("img") == []


def test_html_is_a_complete_fluid_600px_document_styled_inline_in_a_web_safe_font():
    email = render(
        make_ctx(
            promotion_code="SAVE10",
            brand=dataclasses.replace(BRAND, logo_url="https://cdn.acme.test/logo.png"),
        )
    )
    assert email.html.lstrip().startswith("<!DOCTYPE html>") and email.html.rstrip().endswith(
        "</html>"
    )
    parsed = Elements(email.html)
    assert parsed.find("link") == [] and "@import" not in email.html
    styles = re.findall(r"<style[^>]*>(.*?)</style>", email.html, re.S)
    assert len(styles) <= 1 and all(css.strip().startswith("@media") for css in styles)
    styled = {"body", "table", "td", "div", "p", "h1", "a", "img", "span", "strong"}
    assert [
        (tag, attrs) for tag, attrs in parsed.tags if tag in styled and not attrs.get("style")
    ] == []
    assert "width:100%;max-width:600px" in email.html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in email.html
    assert "Helvetica,Arial,sans-serif" in email.html
    preview = re.search(
        r"<body[^>]*>\s*<div style=\"([^\"]*)\">([^<&]*)", email.html
    )  # first in body
    assert "display:none" in preview.group(1) and preview.group(2) == email.preheader


@pytest.mark.parametrize(
    "amount, currency, expected",
    [
        (4800, "usd", "$48.00"),
        (4800, "USD", "$48.00"),
        (999, "eur", "€9.99"),
        (5, "eur", "€0.05"),
        (1200, "jpy", "¥1,200"),
        (123456789, "usd", "$1,234,567.89"),
        (999, "xyz", "9.99 XYZ"),
        (15000, "krw", "₩15,000"),
        (1500, "vnd", "1,500 VND"),
        (5124, "kwd", "5.124 KWD"),
        (0, "usd", "$0.00"),
        (-250, "usd", "-$2.50"),
        (1999, "gbp", "£19.99"),
    ],
)
def test_format_money(amount, currency, expected):
    assert format_money(amount, currency) == expected


def test_sample_context_renders_a_realistic_cart():
    ctx = sample_context(BRAND, base_url="https://portal.test/")
    assert 2 <= len(ctx.items) <= 3 and ctx.total == sum(item.amount for item in ctx.items)
    assert ctx.recovery_link.startswith("https://portal.test/r/")
    assert ctx.recovery_expires_at > datetime.now(timezone.utc)
    email = render(ctx)
    assert email.subject == "You left something in your cart at Acme Goods"
    assert format_money(ctx.total, ctx.currency) in email.html
    assert ctx.unsubscribe_url in email.text and button(email)["href"] == ctx.recovery_link
    assert all(check_placeholders(text) == [] for text in dataclasses.astuple(DEFAULT_CONTENT))
