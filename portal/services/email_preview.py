"""The editor's preview and the test email: a step's design rendered by the one renderer with a
realistic sample cart, as a shopper of this merchant would get it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta

from portal.db import utcnow
from portal.mail import rendering
from portal.models import Merchant, SendingSettings, StripeAccount
from portal.services import recovery_email
from portal.services.email_design import Design

SAMPLE_CUSTOMER = "Alex Morgan"  # as Stripe gives it: the name on the card, in full
SAMPLE_PROMOTION_CODE = "THANKS-7K2Q"
# (name, quantity, unit amount in cents, picture under static/sample/)
SAMPLE_ITEMS = (
    ("Linen shirt, sand, size M", 1, 4800, "shirt.png"),
    ("Stoneware mug", 2, 1800, "mug.png"),
    ("Organic cotton tote bag", 1, 2200, "tote.png"),
    ("Beeswax candle, large", 1, 1500, None),  # Stripe has no picture of every product
)


@dataclass(frozen=True)
class Sample:
    """Where the sample email's links and pictures point: the portal's own public address."""

    base_url: str
    with_promotion: bool


def sample_context(
    merchant: Merchant,
    settings: SendingSettings,
    account: StripeAccount | None,
    design: Design,
    sample: Sample,
) -> rendering.EmailContext:
    """The email's context for the sample cart: four lines, one bought twice, one without a
    picture, a promotion code when the step has one, the link valid for 30 days."""
    base = sample.base_url.rstrip("/")
    items = tuple(
        rendering.LineItem(
            name, qty, qty * unit, "usd", f"{base}/static/sample/{image}" if image else None
        )
        for name, qty, unit, image in SAMPLE_ITEMS
    )
    return rendering.EmailContext(
        brand=recovery_email.brand(merchant, settings, account, design),
        content=design.content,
        customer_name=SAMPLE_CUSTOMER,
        items=items,
        total=sum(item.amount for item in items),
        currency="usd",
        recovery_link=f"{base}/r/sample",
        recovery_expires_at=utcnow() + timedelta(days=30),
        unsubscribe_url=f"{base}/unsubscribe/sample",
        promotion_code=SAMPLE_PROMOTION_CODE if sample.with_promotion else None,
        locale=settings.locale,
        wording=settings.locale,
        zone=settings.timezone,
    )


def preview(
    merchant: Merchant,
    settings: SendingSettings,
    account: StripeAccount | None,
    design: Design,
    sample: Sample,
) -> rendering.RenderedEmail:
    """The step's email as a shopper would get it, for the sample cart."""
    return rendering.render(sample_context(merchant, settings, account, design, sample))


def without_name(
    merchant: Merchant,
    settings: SendingSettings,
    account: StripeAccount | None,
    design: Design,
    sample: Sample,
) -> list[tuple[str, str]]:
    """The subject and lines of the email that read otherwise for a shopper whose checkout
    gave no name, as that shopper reads them, each after its place ("Subject", "Email");
    [] when none does."""
    ctx = sample_context(merchant, settings, account, design, sample)
    named, nameless = rendering.render(ctx), rendering.render(replace(ctx, customer_name=None))
    pairs = [("Subject", named.subject, nameless.subject)]
    pairs += (
        ("Email", *lines) for lines in zip(named.text.splitlines(), nameless.text.splitlines())
    )
    return [(place, after) for place, before, after in pairs if before != after]


def has_promotion(settings: SendingSettings, step: int) -> bool:
    """Whether the email of `step` carries a promotion code by the settings."""
    steps = settings.steps or []
    return step < len(steps) and bool(steps[step].get("promotion"))
