"""The recovery email the mail tests compose and send, and copies of it with fields changed."""

from __future__ import annotations

import dataclasses

from portal.mail.mime import Outgoing

UNSUBSCRIBE = "https://portal.example/u/" + "t0k3n" * 40  # long enough to need folding
OUT = Outgoing(
    sender_name='Müller, "Shop" & Co',
    sender_address="hello@merchant.example",
    to="shopper@example.com",
    subject="Ihr Warenkorb wartet – noch 1 Stück übrig",
    text="Hello,\n.a line that starts with a dot\nYour cart: https://portal.example/r/abc\n",
    html="<p>Hello, <a href='https://portal.example/r/abc'>your cart</a> ✓</p>",
    message_id="<case-42.send-1@mail.platform.example>",
    reply_to="support@merchant.example",
    list_unsubscribe_url=UNSUBSCRIBE,
    headers=(("X-Entity-Ref-ID", "case-42"),),
)


def outgoing(**changes) -> Outgoing:
    return dataclasses.replace(OUT, **changes)
