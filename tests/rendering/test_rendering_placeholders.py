"""The email renderer's placeholders: filled in every part, unknown ones reported, tricks inert."""

from __future__ import annotations

import dataclasses
import re

import pytest
from markupsafe import escape

from portal.mail.content import (
    DEFAULT_CONTENT,
    PLACEHOLDERS,
    Content,
    check_placeholders,
    doubled_placeholders,
    problems,
)
from portal.mail.rendering import render
from rendering_kit import Document, button, make_ctx, with_content


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


@pytest.mark.parametrize("body", ["Your {cart_total cart", "Total: cart_total}", "{{ {x {{"])
def test_a_brace_left_open_or_unopened_is_a_problem(body):
    found = problems(dataclasses.replace(DEFAULT_CONTENT, body=body))
    assert found == [
        (
            "body",
            "A brace is not closed: write a placeholder with both, like {cart_total}, and a "
            "brace itself as {{ or }}.",
        )
    ]
    assert problems(dataclasses.replace(DEFAULT_CONTENT, body="Braces: {{ and }}")) == []


@pytest.mark.parametrize("mark", ["\u202e", "\u200b", "\ufeff", "\U000e0041", "\ufff9"])
@pytest.mark.parametrize("field", ["subject", "preheader", "headline", "button_label"])
def test_a_one_line_field_with_an_invisible_character_is_a_problem(field, mark):
    content = dataclasses.replace(DEFAULT_CONTENT, **{field: f"Your cart{mark}txt.exe"})
    assert problems(content) == [
        (
            field,
            "Remove the invisible character (paste as plain text): in a subject or heading it "
            "hides text, or turns it around.",
        )
    ]


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
