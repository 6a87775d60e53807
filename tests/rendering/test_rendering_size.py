"""The size of the whole message: the longest allowed email stays under Gmail's 102 kB clip."""

from __future__ import annotations

import dataclasses

import itertools

import pytest

from portal.mail.content import FIELDS, Content
from portal.mail.mime import Outgoing, compose
from portal.mail.rendering import EmailContext, LineItem, RenderedEmail, render
from rendering_kit import BRAND, hrefs, make_ctx


GMAIL_CLIPS_AT = 102 * 1024


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
