"""The recovery email of one send: the rendered content in a MIME message with its headers."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from email.utils import parseaddr

from flask import current_app

from portal import db
from portal.models import (
    CheckoutSession,
    EmailSend,
    EmailVersion,
    Merchant,
    SendingDomain,
    SendingSettings,
    StripeAccount,
)
from portal.mail import dkim, rendering, values
from portal.sealing import SecretError
from portal.services import addresses, domains, email_design, links, session_fields
from portal.services.settings_values import ADDRESS_MARKS
from portal.mail.mime import Composed, Outgoing, compose

log = logging.getLogger(__name__)

MISSING_ADDRESS = "[Your postal address: add it in Settings]"


def platform_sender() -> tuple[str, str]:
    """(display name, address) of MAIL_FROM, the platform's sending address."""
    name, address = parseaddr(current_app.config["MAIL_FROM"])
    return name, address or "no-reply@localhost"


def new_message_id() -> str:
    """A Message-ID stored on the send row, so a retry of the same send keeps it."""
    domain = platform_sender()[1].rpartition("@")[2] or "localhost"
    return f"<{uuid.uuid4().hex}@{domain}>"


def brand(
    merchant: Merchant,
    settings: SendingSettings,
    account: StripeAccount | None,
    design: email_design.Design,
) -> rendering.Brand:
    """What every email of the merchant shows of them: name, postal address, logo, colour."""
    return rendering.Brand(
        merchant_name=merchant.name,
        # Only a preview or a test lacks one: recovery emails cannot be on without it.
        postal_address=settings.postal_address or MISSING_ADDRESS,
        color=design.brand_color,
        logo_url=design.logo_url,
        support_email=account.support_email if account else None,
        shop_url=account.shop_url if account else None,
    )


def design_for(send: EmailSend, settings: SendingSettings) -> email_design.Design:
    """The design `send` records (a retry keeps it), or the step's default when it has none."""
    version = (
        db.session.get(EmailVersion, send.email_version_id) if send.email_version_id else None
    )
    return email_design.design_of(version, settings, send.step)


def recovery_message(
    send: EmailSend,
    session: CheckoutSession,
    merchant: Merchant,
    settings: SendingSettings,
    account: StripeAccount | None,
    items: list[dict],
    domain: SendingDomain | None = None,
) -> Composed:
    """The full message for `send`: rendered once, through the one renderer; From the
    merchant's own domain, DKIM-signed, when that domain is verified."""
    unsubscribe = links.unsubscribe_link(send.id)
    design = design_for(send, settings)
    context = rendering.EmailContext(
        brand=brand(merchant, settings, account, design),
        content=design.content,
        # again here: a name may have been stored before receipt took such marks out
        customer_name=session_fields.shopper_name(session.customer_name),
        items=tuple(rendering.LineItem(**item) for item in items),
        total=session.amount_total or sum(i["amount"] for i in items),
        currency=session.currency or (items[0]["currency"] if items else "usd"),
        recovery_link=links.recovery_link(send.id),
        recovery_expires_at=session.recovery_expires_at,
        unsubscribe_url=unsubscribe,
        promotion_code=send.promotion_code,
        locale=values.email_locale(session.locale, settings.locale),
        wording=settings.locale,
        zone=settings.timezone,
    )
    return message_for(
        rendering.render(context),
        send.to_address,
        send.message_id,
        merchant,
        settings,
        unsubscribe,
        domain,
    )


def message_for(
    rendered: rendering.RenderedEmail,
    to: str,
    message_id: str,
    merchant: Merchant,
    settings: SendingSettings,
    unsubscribe_url: str | None,
    domain: SendingDomain | None = None,
) -> Composed:
    """MIME for rendered content in the merchant's name: From the merchant's verified domain
    and DKIM-signed (the envelope, where bounces go, stays the platform's); otherwise, or
    while the domain fails, from the platform's address, with the merchant's Reply-To (its own,
    else the domain's From address)."""
    _, address = platform_sender()
    signer = _signer(domain)
    composed = compose(
        Outgoing(
            sender_name=_sender_name(settings.sender_name or merchant.name),
            sender_address=domain.from_address if signer else address,
            envelope_sender=address if signer else None,
            to=addresses.for_mail(to),
            subject=rendered.subject,
            text=rendered.text,
            html=rendered.html,
            message_id=message_id,
            # While the merchant's domain is not usable, replies still reach its address.
            reply_to=settings.reply_to or (domain.from_address if domain and not signer else None),
            # RFC 8058 one-click needs https; over plain http (development) only the body link stays.
            list_unsubscribe_url=unsubscribe_url
            if (unsubscribe_url or "").startswith("https://")
            else None,
        )
    )
    return replace(composed, data=signer.sign(composed.data)) if signer else composed


def _signer(domain: SendingDomain | None) -> dkim.Signer | None:
    """The verified domain's signer; None (the platform sender) when there is none, or when its
    key cannot be read: an email unsigned from the platform beats no email."""
    try:
        return domains.signer_for(domain)
    except (SecretError, ValueError) as exc:
        log.error("sending domain %s: cannot sign (%s); using the platform sender", domain.id, exc)
        return None


__all__ = [
    "brand",
    "design_for",
    "message_for",
    "new_message_id",
    "platform_sender",
    "recovery_message",
]


def _sender_name(name: str) -> str:
    # A name saved before names were checked must not stop sending, nor pass for an address
    # ("Bank <help@bank.example>"): it is made one line, without < > or @.
    return values.one_line(ADDRESS_MARKS.sub(" ", name))
