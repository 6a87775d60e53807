"""The home page's onboarding checklist, computed from the merchant's real state."""

from __future__ import annotations

from dataclasses import dataclass, replace

from portal import db
from portal.models import DomainStatus, Merchant, SendingSettings, StripeAccount
from portal.services import connections, domains, email_design, terms, webhook_health


@dataclass(frozen=True)
class Step:
    """One checklist step; `endpoint` names the page where it is done (the web layer links it
    when the portal has that page)."""

    key: str
    title: str
    detail: str
    endpoint: str
    done: bool = False
    optional: bool = False
    underway: str | None = None  # begun, not done: what it waits for, in words


# (key, title, what it does, the page where it is done, optional)
STEPS = (
    (
        "connect",
        "Connect Stripe",
        "Link your Stripe account with Connect, or paste an API key if you self-host.",
        "connect.index",
        False,
    ),
    (
        "terms",
        "Accept the cart-recovery terms",
        "Recovery emails are sent on your behalf only after you accept the terms.",
        "terms.show",
        False,
    ),
    (
        "address",
        "Add your postal address",
        "The law on marketing email (CAN-SPAM) asks for it at the foot of every email: "
        "recovery emails can be turned on once it is set.",
        "settings.edit",
        False,
    ),
    (
        "email",
        "Design your recovery email",
        "Edit the subject, text and branding, preview it and send yourself a test. Until "
        "you save it, a clear default email with your name, cart and address goes out.",
        "editor.index",
        True,
    ),
    (
        "domain",
        "Add a custom sending domain",
        "Send from your own address, such as hello@yourshop.example, signed with DKIM: Gmail "
        "and Yahoo trust it more. Until then, emails go from the platform's address with "
        "your reply-to.",
        "domain.index",
        True,
    ),
    (
        "enable",
        "Turn on recovery emails",
        "From then on, every abandoned checkout of a consenting shopper gets an email.",
        "settings.edit",
        False,
    ),
)


# What a done step's detail says instead, where its "until" no longer holds.
DONE_DETAILS = {
    "connect": "Checkout sessions and payments of your Stripe account reach the portal.",
    "terms": "Recovery emails may be sent on your behalf.",
    "address": "It is at the foot of every recovery email.",
    "email": "Your saved email is the one that goes out: edit, preview and test it any time.",
    "domain": "Emails go from your own domain, signed with DKIM.",
    "enable": "Every abandoned checkout of a consenting shopper gets an email.",
}


def checklist(merchant: Merchant) -> list[Step]:
    """The steps in the order a merchant takes them, each with its real state."""
    account = connections.connected_account(merchant)
    refused = _events_refused(account)
    done = {
        "connect": lambda: account is not None and refused is None,
        "terms": lambda: terms.has_accepted_current(merchant),
        "address": lambda: _has_postal_address(merchant),
        "email": lambda: email_design.current_id(merchant.id, 0) is not None,
        "domain": lambda: _domain_verified(merchant),
        "enable": lambda: merchant.recovery_enabled,
    }
    underway = {
        "connect": lambda: refused,
        "domain": lambda: _domain_underway(merchant),
    }
    steps = [
        Step(
            key,
            title,
            detail,
            endpoint,
            done=done[key](),
            optional=optional,
            underway=underway.get(key, lambda: None)(),
        )
        for key, title, detail, endpoint, optional in STEPS
    ]
    return [replace(s, detail=DONE_DETAILS[s.key]) if s.done else s for s in steps]


def _events_refused(account: StripeAccount | None) -> str | None:
    """Connected, but Stripe's deliveries to its own endpoint are refused (a wrong signing
    secret): every cart is lost until it is fixed, so the step is not done."""
    if account is None or account.webhook_refused_at is None:  # no refusal: no query
        return None
    return CONNECT_REFUSED if webhook_health.health(account).failing else None


CONNECT_REFUSED = "Events refused: check the signing secret"


def _has_postal_address(merchant: Merchant) -> bool:
    stored = db.session.get(SendingSettings, merchant.id)  # read only: no defaults written
    return stored is not None and bool(stored.postal_address.strip())


def _domain_verified(merchant: Merchant) -> bool:
    row = domains.current(merchant)
    return row is not None and row.status == DomainStatus.VERIFIED


# A domain added but not (or no longer) verified, as the checklist says it.
DOMAIN_UNDERWAY = {
    DomainStatus.PENDING: "Waiting for DNS",
    DomainStatus.FAILING: "Needs attention",
}


def _domain_underway(merchant: Merchant) -> str | None:
    row = domains.current(merchant)
    return DOMAIN_UNDERWAY.get(row.status) if row is not None else None


def next_step(merchant: Merchant) -> Step | None:
    """The first required step still to do, in the checklist's order; None when all are done."""
    return next((s for s in checklist(merchant) if not (s.done or s.optional)), None)


def progress(steps: list[Step]) -> tuple[int, int]:
    """(required steps done, required steps in all)."""
    required = [s for s in steps if not s.optional]
    return sum(s.done for s in required), len(required)
