"""The email renderer: placeholders, escaping, brand rules, the MJML layout, both parts, their
snapshots, money and dates in the shopper's language, and the size of the whole message. Pure
unit tests: no database, network or request.

Snapshots live in tests/data/snapshots/; `UPDATE_SNAPSHOTS=1 pytest tests/test_rendering.py`
writes them afresh (the snapshot tests then skip, naming each file written) instead of comparing.
"""

from __future__ import annotations

import dataclasses
import itertools
import os
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape

from portal.mail import layout
from portal.mail.content import (
    DEFAULT_CONTENT,
    FIELDS,
    PLACEHOLDERS,
    Content,
    check_placeholders,
    default_content,
    doubled_placeholders,
    fill,
    problems,
)
from portal.mail.mime import Outgoing, compose
from portal.mail.rendering import (
    Brand,
    EmailContext,
    LineItem,
    RenderedEmail,
    items_title,
    render,
)
from portal.models import Merchant, SendingSettings
from portal.services import email_preview
from portal.services.email_design import Design

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = Path(__file__).resolve().parent / "data" / "snapshots"
GMAIL_CLIPS_AT = 102 * 1024

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


def assert_inert(html: str) -> None:
    """No script element, no event-handler attribute, no javascript: or data: address, and
    outside attribute values no markup that was typed as text."""
    doc = Document(html)
    assert doc.find("script") == []
    handlers = [(tag, name) for tag, attrs in doc.tags for name in attrs if name.startswith("on")]
    assert handlers == []
    urls = [v for _, attrs in doc.tags for k, v in attrs.items() if k in ("href", "src")]
    assert not [url for url in urls if url.strip().lower().startswith(("javascript", "data"))]
    outside = outside_attributes(html)
    assert "<script" not in outside.lower() and "<img src=x" not in outside


def outside_attributes(html: str) -> str:
    """`html` with every (double-quoted) attribute value emptied."""
    return re.sub(r'="[^"]*"', '=""', html)


# Placeholders


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
    for part in (Document(email.html).text, email.text):
        for filled in (
            "Hello Jane Doe",
            "Total $84.00, link valid until December 21, 2026.",
            "Code: [SAVE10]",
            "Back to Acme Goods",
            "Sent by Acme Goods",
        ):
            assert filled in part
        assert not re.search(r"\{[a-z_]+\}", part)
    assert button(email, "Back to Acme Goods")["href"] == "https://portal.test/r/tok123"


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


# The layout fills slots of its own ({cart_rows}, {unsubscribe_url}...) that are no placeholder:
# a design that names one must still read as written, as the text part does.
@pytest.mark.parametrize(
    "name", ["cart_rows", "unsubscribe_url", "recovery_link", "subject", "preheader"]
)
def test_the_layouts_own_slots_are_no_placeholders(name):
    written = "{%s}" % name
    assert check_placeholders(written) == [name]
    email = render(with_content(body=f"See {written} here", headline=f"Top {written}"))
    assert f"See {written} here" in email.text and f"Top {written}" in email.text
    assert f"See {written} here" in Document(email.html).text
    assert f"Top {written}" in Document(email.html).text


def test_a_placeholder_in_double_braces_is_a_problem_but_escaped_braces_around_one_are_not():
    def said(body):
        return [
            message for _, message in problems(dataclasses.replace(DEFAULT_CONTENT, body=body))
        ]

    assert said("Hi {{ Customer-Name }}, {{merchant_name}}") == [
        "Write {customer_name}, {merchant_name} in single braces: in double braces the shopper "
        "would read the braces and the name as typed."
    ]
    assert doubled_placeholders("{{{customer_name}}} and {{ 7*7 }} and {{first_name}}") == []
    assert said("{{{customer_name}}} {{ 7*7 }}") == []


def test_escaped_braces_are_literal_and_not_reported():
    text = "Use {{merchant_name}} for {merchant_name}; a set: {{1, 2}}"
    assert check_placeholders(text) == []
    email = render(with_content(body=text))
    expected = "Use {merchant_name} for Acme Goods; a set: {1, 2}"
    assert expected in email.text and expected in Document(email.html).text
    assert "{Acme Goods}" in render(with_content(body="{{{merchant_name}}}")).text
    shopper = make_ctx(
        customer_name="{merchant_name}",
        content=dataclasses.replace(DEFAULT_CONTENT, body="Hi {customer_name}"),
    )
    for part in (render(shopper).text, render(shopper).html):
        assert "Hi {merchant_name}" in part  # a filled-in value is never scanned again


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
    assert attack in email.text and attack in Document(email.html).text
    for leak in ("<class", "str'>", "'Acme Goods'", "builtin"):
        assert leak not in email.text and leak not in email.subject
        assert str(escape(leak)) not in email.html


# Escaping


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
    assert "&amp; &lt;b&gt;more&lt;/b&gt;" in email.html
    assert "<b>more" not in outside_attributes(email.html)
    doc = Document(email.html)
    image = next(img for img in doc.find("img") if "cdn.acme.test" in img["src"])
    assert image["alt"] == name  # the escaped attribute decodes back to exactly the name
    assert f"{name}Qty 1" in doc.text
    assert f"- {name} (qty 1): $48.00" in email.text


def test_urls_in_attributes_are_escaped():
    link = 'https://portal.test/r/a"onmouseover="x&y=1'
    email = render(make_ctx(recovery_link=link, unsubscribe_url=link + "&u=1"))
    assert 'onmouseover="x' not in email.html
    assert_inert(email.html)
    assert button(email)["href"] == link
    assert link + "&u=1" in hrefs(email)


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
    assert_inert(email.html)


ATTACKS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "{{ 7*7 }}",
    "{% print 7*7 %}",
    "${7*7}",
    "{merchant_name.__class__}",
    "M0123456789abcdefxsubjectx",  # looks like one of layout.py's markers
]
# Where each merchant text shows besides the HTML: the subject and preheader are no part of the
# text part; they travel as the Subject header and the inbox line.
CONTENT_FIELDS = {
    "subject": lambda email: email.subject,
    "preheader": lambda email: email.preheader,
    "headline": lambda email: email.text,
    "body": lambda email: email.text,
    "button_label": lambda email: email.text,
    "footer": lambda email: email.text,
}


def assert_literal(email: RenderedEmail, written: str, plain: str) -> None:
    """`written` reached the reader as text: escaped and inert in the HTML, exactly itself in
    `plain` (the text part, subject or preheader), and "7*7" never became 49."""
    assert_inert(email.html)
    assert written in Document(email.html).text, f"{written!r} is not text in the HTML"
    assert written in plain
    assert "49" not in email.html and "49" not in email.text and "49" not in email.subject


def test_the_known_email_says_49_nowhere():
    email = render(make_ctx(promotion_code="SAVE10"))  # else "49" below could be innocent
    assert "49" not in email.html + email.text + email.subject + email.preheader


@pytest.mark.parametrize("field", list(CONTENT_FIELDS))
@pytest.mark.parametrize("attack", ATTACKS)
def test_attacks_in_every_merchant_text_come_out_as_text(field, attack):
    email = render(with_content(**{field: f"Hi {attack} there"}))
    # "{{"/"}}" are the editor's escaped braces: "{{ 7*7 }}" is meant to read "{ 7*7 }".
    written = fill(f"Hi {attack} there", {})
    assert_literal(email, written, CONTENT_FIELDS[field](email))


@pytest.mark.parametrize("attack", ATTACKS)
def test_attacks_in_the_merchant_name_and_address_come_out_as_text(attack):
    email = render(with_brand(merchant_name=attack, postal_address=f"1 Road\n{attack}\nTown"))
    assert_literal(email, attack, email.text)
    assert email.subject == f"You left something in your cart at {attack}"
    doc = Document(email.html)
    assert f"Unsubscribe from {attack} emails" in " ".join(doc.text.split())
    assert f"1 Road\n{attack}\nTown" in email.text


@pytest.mark.parametrize("attack", ATTACKS)
def test_attacks_in_what_the_shopper_typed_come_out_as_text(attack):
    email = render(
        make_ctx(
            customer_name=attack,
            items=(LineItem(attack, 1, 4800, "usd", "https://cdn.acme.test/a.png"),),
            total=4800,
            promotion_code=attack,
        )
    )
    assert_literal(email, f"Hi {attack},", email.text)
    doc = Document(email.html)
    assert [img["alt"] for img in doc.find("img")] == [attack]
    assert f"Use code {attack} at checkout" in doc.text
    assert f"- {attack} (qty 1): $48.00" in email.text
    assert f"Use code {attack} at checkout." in email.text


def test_a_real_marker_in_a_shoppers_value_is_text_never_a_slot():
    marker = layout.mark("recovery_link")  # what this process's layout uses for the link
    email = render(make_ctx(customer_name=marker, items=(LineItem(marker, 1, 4800, "usd"),)))
    doc = Document(email.html)
    assert f"Hi {marker}," in doc.text and f"{marker}Qty 1" in doc.text
    assert f"Hi {marker}," in email.text
    assert hrefs(email).count("https://portal.test/r/tok123") == 1  # the button's, only


@pytest.mark.parametrize("attack", ATTACKS)
def test_attacks_in_the_brands_addresses_are_dropped_or_kept_exact_and_inert(attack):
    squeezed = attack.replace(" ", "")  # a space alone would get a URL or address refused
    email = render(
        with_brand(
            support_email=f"{squeezed}@acme.test",
            shop_url=f"https://acme.test/{squeezed}",
            logo_url=f"https://cdn.acme.test/{squeezed}.png",
        )
    )
    assert_inert(email.html)
    assert "49" not in email.html and "49" not in email.text
    doc = Document(email.html)
    urls = [v for _, attrs in doc.tags for k, v in attrs.items() if k in ("href", "src")]
    for url in (f"https://acme.test/{squeezed}", f"https://cdn.acme.test/{squeezed}.png"):
        assert url in urls or url not in email.html + email.text  # used exactly, or not at all
    address = f"{squeezed}@acme.test"
    shown = f"mailto:{address}" in urls
    assert shown == (f"Questions? {address}" in email.text)
    assert shown or address not in doc.text


# Inside a quoted attribute "<" is harmless to a browser, but the HTML standard's serializer now
# writes it "&lt;" (mutation XSS), and filters that read the raw source see a script tag.
@pytest.mark.parametrize(
    "changes",
    [
        {
            "items": (
                LineItem("<script>alert(1)</script>", 1, 4800, "usd", "https://c.test/a.png"),
            )
        },
        {"items": (LineItem("Hat", 1, 4800, "usd", "https://c.test/a.png?<script>"),)},
        {
            "brand": dataclasses.replace(
                BRAND, merchant_name="<script>", logo_url="https://c.test/l.png"
            )
        },
        {"brand": dataclasses.replace(BRAND, shop_url='https://acme.test/"><script>alert(1)')},
    ],
    ids=["item name", "item picture", "merchant name by the logo", "shop link"],
)
def test_angle_brackets_stay_escaped_inside_attributes(changes):
    html = render(make_ctx(**changes)).html
    assert "<script" not in html


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


# Both parts


@pytest.mark.parametrize(
    "in_html, in_text",
    [
        (
            '<img src="https://cdn.acme.test/shirt.png" alt="Linen shirt"',
            "- Linen shirt (qty 1): $48.00",
        ),
        ("Qty 2", "- Stoneware mug (qty 2): $36.00"),
        (">$84.00</td>", "Total: $84.00"),
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
    assert button(email, "Unsubscribe")["href"] == "https://portal.test/unsubscribe/u456"
    assert hrefs(email)[-1] == "https://portal.test/unsubscribe/u456"
    assert email.text.rstrip().endswith("Unsubscribe: https://portal.test/unsubscribe/u456")


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
    assert "You left" not in email.text and "Total:" not in email.text
    assert "Qty" not in email.html and "items-title" not in email.html
    assert "You left th" not in email.html  # the subject still says "You left something"
    assert button(email)["href"] == "https://portal.test/r/tok123"


@pytest.mark.parametrize(
    "items, title",
    [
        ((LineItem("Hat", 1, 100, "usd"),), "You left this in your cart"),
        ((LineItem("Hat", 3, 300, "usd"),), "You left these 3 items in your cart"),
        (
            (LineItem("Hat", 1, 100, "usd"), LineItem("Scarf", 1, 100, "usd")),
            "You left these 2 items in your cart",
        ),
    ],
)
def test_the_line_above_the_cart_reads_right_for_one_and_for_many(items, title):
    assert items_title(items) == title
    email = render(make_ctx(items=items, total=sum(item.amount for item in items)))
    assert f"\n{title}:\n" in email.text
    assert re.search(rf"<p class=\"items-title\"[^>]*>{title}</p>", email.html)


@pytest.mark.parametrize("step", [0, 1, 2])
def test_each_default_email_says_the_total_once(step):
    email = render(make_ctx(content=default_content(step)))
    assert email.text.count("$84.00") == 1 and "Total: $84.00" in email.text
    assert Document(email.html).text.count("$84.00") == 1
    texts = dataclasses.astuple(default_content(step))
    assert all(check_placeholders(text) == [] for text in texts)


# Brand rules


@pytest.mark.parametrize(
    "color", ["red", "#fff", "#12345g", "#123456;background:url(x)", "", "4f46e5"]
)
def test_bad_brand_colour_falls_back(color):
    email = render(with_brand(color=color))
    assert "background:#4f46e5;" in button(email)["style"]
    assert "border-top: 4px solid #4f46e5" in email.html
    assert "url(x)" not in email.html and "red;" not in email.html
    assert "#123456" not in email.html and "#12345g" not in email.html


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
    style = button(email)["style"]
    assert f"background:{color.lower()};" in style and f";color:{text};" in style
    assert f'bgcolor="{color.lower()}"' in email.html


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
    assert [img["src"] for img in Document(email.html).find("img")] == [
        "https://cdn.acme.test/shirt.png"
    ]
    assert ">Acme Goods</a>" in email.html  # the name stands in for the logo


@pytest.mark.parametrize(
    "url", ["https://cdn.acme.test/logo.png", "http://localhost:5000/logo.png"]
)
def test_https_logo_url_is_used_and_plain_http_only_on_localhost(url):
    assert url in [
        img["src"] for img in Document(render(with_brand(logo_url=url)).html).find("img")
    ]


def test_unsafe_item_image_and_shop_url_are_dropped():
    email = render(
        make_ctx(
            brand=dataclasses.replace(BRAND, shop_url="javascript:alert(2)"),
            items=(LineItem("Hat", 1, 100, "usd", "javascript:alert(1)"),),
        )
    )
    assert "javascript" not in email.html
    assert Document(email.html).find("img") == []


def test_images_carry_alt_text_the_logo_the_merchant_name_and_items_their_names():
    email = render(with_brand(logo_url="https://cdn.acme.test/logo.png"))
    images = {img["src"]: img for img in Document(email.html).find("img")}
    assert images["https://cdn.acme.test/logo.png"]["alt"] == "Acme Goods"
    assert images["https://cdn.acme.test/shirt.png"]["alt"] == "Linen shirt"
    assert len(images) == 2  # the mug has no picture, and no empty <img> stands in for it
    assert all(img["alt"].strip() for img in images.values())


# The layout


def test_html_is_a_complete_responsive_table_layout_styled_inline():
    email = render(
        make_ctx(
            promotion_code="SAVE10",
            brand=dataclasses.replace(BRAND, logo_url="https://cdn.acme.test/logo.png"),
        )
    )
    html = email.html
    assert html.lstrip().startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    doc = Document(html)
    assert doc.find("link") == [] and "@import" not in html and "url(" not in html
    # Tables for layout, one column at most 600 px wide, fluid below that.
    assert len(doc.find("table")) >= 4
    assert all(table.get("role") == "presentation" for table in doc.find("table"))
    assert set(re.findall(r"mj-column-per-\d+", html)) == {"mj-column-per-100"}
    assert "max-width:600px" in html
    assert "display:flex" not in html.replace(" ", "") and "grid" not in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "@media only screen and (max-width: 480px)" in html
    # Many clients drop <style>: everything that is drawn carries its own style attribute.
    styled = {"body", "table", "td", "div", "p", "h1", "a", "img", "span"}
    assert [
        (tag, attrs) for tag, attrs in doc.tags if tag in styled and not attrs.get("style")
    ] == []
    assert "Helvetica, Arial, sans-serif" in html
    assert not re.search(r"@font-face|fonts\.googleapis", html)
    # The subject is the document's title; the preheader opens the body, hidden.
    assert re.search(r"<title>([^<]*)</title>", html).group(1) == email.subject
    preview = re.search(r"<body[^>]*>\s*<div style=\"([^\"]*)\">([^<&]*)", html)
    assert "display:none" in preview.group(1) and preview.group(2) == email.preheader


def test_one_dark_mode_block_with_light_ink_on_dark_surfaces():
    html = render(make_ctx()).html
    assert html.count("prefers-color-scheme: dark") == 1
    assert '<meta name="color-scheme" content="light dark">' in html
    dark = html[html.index("prefers-color-scheme: dark") :]
    dark = dark[: dark.index("</style>")]
    assert "background-color: #1f2937 !important" in dark and "#f3f4f6 !important" in dark


# What a reader sees: every piece of text against the colour behind it, in Chromium, in the light
# and dark schemes. 3:1 is WCAG's floor for large text; the footer's 12 px grey sits at 4.4:1.
CONTRAST_JS = """() => {
  const rgb = s => s.match(/[\\d.]+/g).map(Number);
  const lum = c => c.slice(0, 3).map(v => v / 255)
    .map(v => v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const behind = e => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length < 4 || c[3] > 0) return c;
    }
    return [255, 255, 255];
  };
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node; (node = walker.nextNode()); ) {
    const e = node.parentElement, text = node.textContent.trim();
    if (!text || !e.getClientRects().length || e.closest('[style*="display:none"]')) continue;
    const [a, b] = [lum(rgb(getComputedStyle(e).color)), lum(behind(e))];
    found.push([text.slice(0, 40), (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05)]);
  }
  return found;
}"""


@pytest.mark.browser
@pytest.mark.parametrize(
    "scheme",
    [
        "light",
        "dark",
    ],
)
def test_every_text_is_readable_in_the_light_and_dark_schemes(browser, scheme):
    # No logo: the merchant's name, a link to the shop, heads the email.
    html = render(dataclasses.replace(snapshot_ctx(one_item=False), brand=BRAND)).html
    page = browser.new_page(viewport={"width": 600, "height": 800}, color_scheme=scheme)
    try:
        page.route("**/*", lambda route: route.abort())  # nothing is fetched
        page.set_content(html)
        seen = page.evaluate(CONTRAST_JS)
    finally:
        page.close()
    assert len(seen) > 20 and any(text == "Unsubscribe" for text, _ in seen)
    faint = [(text, round(ratio, 2)) for text, ratio in seen if ratio < 3]
    assert faint == [], f"text below 3:1 contrast in the {scheme} scheme"


def test_no_layout_marker_is_left_in_either_part():
    email = render(make_ctx(promotion_code="SAVE10"))
    token = layout.mark("subject").removesuffix("xsubjectx")  # M + this process's random token
    for part in (email.html, email.text, email.subject, email.preheader):
        assert token not in part
        assert not re.search(r"M[0-9a-f]{16}x[a-z_]+x", part)


def test_the_layout_is_compiled_once_per_design():
    layout.compile_layout.cache_clear()
    render(make_ctx(customer_name="Ann"))
    render(make_ctx(customer_name="Bob", recovery_link="https://portal.test/r/other"))
    assert layout.compile_layout.cache_info().misses == 1
    render(with_content(headline="Another design"))
    assert layout.compile_layout.cache_info().misses == 2


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


# The preview's sample cart (email_preview), rendered by the same renderer


def sample_email(with_promotion: bool) -> tuple[EmailContext, RenderedEmail]:
    merchant = Merchant(name="Acme Goods")
    settings = SendingSettings(
        postal_address="12 Main St\nSpringfield", locale="en_US", timezone="UTC", steps=[]
    )
    design = Design(DEFAULT_CONTENT, None, "#4f46e5")
    sample = email_preview.Sample("https://portal.test/", with_promotion)
    ctx = email_preview.sample_context(merchant, settings, None, design, sample)
    return ctx, email_preview.preview(merchant, settings, None, design, sample)


def test_the_sample_cart_is_realistic_and_renders_like_a_real_email():
    ctx, email = sample_email(with_promotion=True)
    assert 3 <= len(ctx.items) <= 5 and ctx.total == sum(item.amount for item in ctx.items)
    assert any(item.quantity > 1 for item in ctx.items)
    assert any(item.image_url is None for item in ctx.items)
    assert ctx.recovery_link.startswith("https://portal.test/r/")
    assert ctx.unsubscribe_url.startswith("https://portal.test/unsubscribe/")
    assert ctx.recovery_expires_at > datetime.now(timezone.utc) + timedelta(days=7)
    for item in ctx.items:
        if item.image_url:  # the pictures are the portal's own, and they exist
            path = item.image_url.removeprefix("https://portal.test/")
            assert (ROOT / path).is_file(), path
    assert email.subject == "You left something in your cart at Acme Goods"
    assert "Use code THANKS-7K2Q at checkout." in email.text
    assert button(email)["href"] == ctx.recovery_link and ctx.unsubscribe_url in email.text
    assert Document(email.html).text.count("$121.00") == 1  # the total, once


def test_the_sample_has_a_code_only_when_the_step_has_one():
    _, email = sample_email(with_promotion=False)
    assert "Use code" not in email.text and "Use code" not in email.html
    settings = SendingSettings(
        steps=[{"delay_minutes": 0}, {"delay_minutes": 60, "promotion": True}]
    )
    assert [email_preview.has_promotion(settings, step) for step in range(3)] == [
        False,
        True,
        False,
    ]


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


@pytest.mark.parametrize(
    "name, one_item, part",
    [
        ("recovery.html", False, "html"),
        ("recovery.txt", False, "text"),
        ("recovery_one_item.html", True, "html"),
        ("recovery_one_item.txt", True, "text"),
    ],
)
def test_snapshot(name, one_item, part):
    rendered = getattr(render(snapshot_ctx(one_item=one_item)), part)
    path = SNAPSHOTS / name
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rendered.encode("utf-8"))
        pytest.skip(f"UPDATE_SNAPSHOTS=1: wrote {path.relative_to(ROOT)} ({len(rendered)} chars)")
    assert path.is_file(), f"no snapshot {path}: run with UPDATE_SNAPSHOTS=1 to write it"
    expected = path.read_bytes().decode("utf-8")  # as written: no newline translation
    if rendered != expected:
        at = next(
            (i for i, (a, b) in enumerate(zip(rendered, expected)) if a != b),
            min(len(rendered), len(expected)),
        )
        pytest.fail(
            f"{name} differs from the snapshot at character {at}:\n"
            f"  rendered: {rendered[max(at - 80, 0) : at + 80]!r}\n"
            f"  snapshot: {expected[max(at - 80, 0) : at + 80]!r}\n"
            "If the change is wanted, run with UPDATE_SNAPSHOTS=1 and review the diff."
        )


# Size: Gmail clips a message over 102 KB, and a clipped email hides its unsubscribe link


def cycled(pattern: str, length: int) -> str:
    return "".join(itertools.islice(itertools.cycle(pattern), length))


def longest_email(pattern: str, item_name: str) -> tuple[RenderedEmail, EmailContext]:
    """Every merchant text at its longest allowed length, written with `pattern`; a 20-line cart
    of 200-character names and 500-character picture addresses; a code; a long address."""
    content = Content(**{name: cycled(pattern, limit) for name, (_, limit, _) in FIELDS.items()})
    items = tuple(
        LineItem(
            cycled(f"{n:02d} {item_name}", 200),
            n % 3 + 1,
            123456,
            "usd",
            f"https://cdn.acme.test/{n:02d}/" + "p" * 471 + ".png",
        )
        for n in range(20)
    )
    assert {len(item.image_url) for item in items} == {500}
    ctx = make_ctx(
        content=content,
        brand=dataclasses.replace(
            BRAND,
            merchant_name=cycled(pattern, 100),
            postal_address="\n".join(cycled(f"{n} {pattern}", 99) for n in range(10)),
            logo_url="https://cdn.acme.test/" + "l" * 474 + ".png",
        ),
        customer_name=cycled(pattern, 100),
        items=items,
        total=sum(item.amount for item in items),
        promotion_code="THANKS-" + "K" * 33,
    )
    return render(ctx), ctx


def whole_message(email: RenderedEmail, ctx: EmailContext) -> bytes:
    """The message as recovery_email.message_for composes it, as it goes on the wire."""
    return compose(
        Outgoing(
            sender_name=ctx.brand.merchant_name,
            sender_address="recovery@portal.example",
            to="shopper@example.com",
            subject=email.subject,
            text=email.text,
            html=email.html,
            message_id="<0123456789abcdef0123456789abcdef@portal.example>",
            reply_to="help@acme.test",
            list_unsubscribe_url=ctx.unsubscribe_url,
        )
    ).as_bytes()


@pytest.mark.parametrize(
    "pattern",
    [
        "Fish & chips <3, crème brûlée, 日本茶 ",  # entities, letters and multi-byte mixed
        "&",  # the longest entity for one character
        "<",
        "abcdefgh ",
    ],
)
def test_the_longest_allowed_email_with_20_items_stays_under_gmails_102_kb(pattern):
    email, ctx = longest_email(pattern, "Linen shirt & tie <XL>, crème, 日本 ")
    size = len(whole_message(email, ctx))
    assert size < GMAIL_CLIPS_AT, f"the message is {size} bytes, Gmail clips at {GMAIL_CLIPS_AT}"
    assert hrefs(email)[-1] == ctx.unsubscribe_url, "the unsubscribe link is not the last link"
    assert email.text.rstrip().endswith(f"Unsubscribe: {ctx.unsubscribe_url}")


@pytest.mark.parametrize("pattern", ["日本語のメールです。", "Привет, корзина ждёт. "])
def test_the_longest_email_in_a_non_latin_script_stays_under_102_kb(pattern):
    email, ctx = longest_email(pattern, "Linen shirt, sand, size M ")
    size = len(whole_message(email, ctx))
    assert size < GMAIL_CLIPS_AT, f"the message is {size} bytes, Gmail clips at {GMAIL_CLIPS_AT}"
