"""Shared pieces for the custom sending domain tests: publishing records, verifying, a message."""

from __future__ import annotations

from portal.db import utcnow
from portal.mail import dkim
from portal.mail.mime import Outgoing, compose
from portal.services import domains

SPF = "_spf.portal.example"
OTHER_KEY = dkim.new_key()[1]


# Checks against a real DNS server


def publish(server, row, dkim_value=None, spf=f"v=spf1 include:{SPF} ~all", dmarc=None):
    server.set_txt(f"{row.selector}._domainkey.{row.domain}", dkim_value or dkim_record(row))
    server.set_txt(row.domain, spf, "google-site-verification=abc")
    server.set_txt(
        f"_dmarc.{row.domain}", dmarc or "v=DMARC1; p=quarantine; rua=mailto:d@x.example"
    )


def dkim_record(row) -> str:
    return f"v=DKIM1; k=rsa; p={row.public_key}"


def verify(row, server, now=None, lifetime=5.0):
    resolver = domains.resolver_from({"DNS_RESOLVER": server.address})
    resolver.lifetime = lifetime
    return domains.verify(row, now or utcnow(), resolver)


# DKIM signatures


def message(n: int = 0, reply_to: str | None = "help@shop.example") -> bytes:
    return compose(
        Outgoing(
            sender_name="Bücher & Co",
            sender_address="hello@shop.example",
            to=f"shopper{n}@example.com",
            subject=f"Ihr Warenkorb wartet ✓ {n}",
            text=f"Hello,\n.a line that starts with a dot\n{'long line ' * 30}\n{n}\n",
            html=f"<p>Hello {n}, <a href='https://portal.example/r/abc'>your cart</a> ✓</p>",
            message_id=f"<case-{n}@portal.example>",
            reply_to=reply_to,
            list_unsubscribe_url=f"https://portal.example/u/token{n}",
        )
    ).data
