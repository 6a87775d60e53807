"""The email renderer escapes every merchant and shopper text, and attacks come out as text."""

from __future__ import annotations

import dataclasses
import re

import pytest

from portal.mail import layout
from portal.mail.content import DEFAULT_CONTENT, fill
from portal.mail.rendering import LineItem, RenderedEmail, render
from rendering_kit import BRAND, Document, button, hrefs, make_ctx, with_brand, with_content


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
