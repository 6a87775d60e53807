"""What a rendered email says: the subject, the cart, the expiry, the code, both parts alike."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime, timedelta, timezone

import pytest

from portal.mail.content import DEFAULT_CONTENT, check_placeholders, default_content
from portal.mail.rendering import LineItem, items_title, render
from rendering_kit import Document, button, hrefs, make_ctx, with_content


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
