"""Shoppers' own actions from an email: following the recovery link, unsubscribing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from portal import db
from portal.models import CheckoutSession, ConsentSource, ConsentStatus, Contact, EmailSend
from portal.models import Merchant
from portal.models import RecoveryCase, SendingSettings
from portal.services import consent, links, recovery


@dataclass(frozen=True)
class Click:
    recovery_url: str | None  # None when the link has expired
    merchant_name: str
    shop_url: str | None
    wording: str | None  # the locale whose language the merchant's emails are in


def follow(send_id: int, now: datetime, record: bool = True) -> Click | None:
    """Record the first click of a send's link (unless `record` is False: a HEAD request, as
    link checkers send, is no shopper's click); where the link leads (None: unknown send)."""
    send = db.session.get(EmailSend, send_id)
    if send is None:
        return None
    case = db.session.get(RecoveryCase, send.case_id)
    session: CheckoutSession = case.session
    merchant = db.session.get(Merchant, send.merchant_id)
    if record:
        send.clicked_at = send.clicked_at or now
        case.clicked_at = case.clicked_at or now
    alive = session.recovery_url and (
        session.recovery_expires_at is None or session.recovery_expires_at > now
    )
    account = merchant.stripe_account
    return Click(
        session.recovery_url if alive else None,
        merchant.name,
        account.shop_url if account else None,
        wording(merchant.id),
    )


def wording(merchant_id: int) -> str | None:
    """The locale whose language the merchant's emails are in (their settings'), for the pages
    a shopper reaches from one; None when the merchant never saved settings."""
    return db.session.scalar(
        select(SendingSettings.locale).where(SendingSettings.merchant_id == merchant_id)
    )


def unsubscribe_target(token: links.UnsubscribeToken) -> tuple[Merchant, str] | None:
    """The merchant and the address an unsubscribe link stands for (None: nothing we know)."""
    merchant_id, email = token.merchant_id, token.email
    if token.send_id is not None:
        send = db.session.get(EmailSend, token.send_id)
        merchant_id, email = (send.merchant_id, send.to_address) if send else (None, None)
    merchant = db.session.get(Merchant, merchant_id) if merchant_id else None
    return (merchant, email) if merchant is not None and email else None


SHOPPERS_OWN = ConsentSource.shoppers_own()
REPEAT_WINDOW = timedelta(days=1)


def unsubscribe_and_stop(merchant_id: int, email: str, source: str, now: datetime) -> None:
    """`unsubscribe`, then the shopper's waiting emails stopped (recovery.reconsider), so that
    their carts' stories say so at once. Commits: the unsubscribe must hold whatever comes of
    stopping the emails (the send path checks consent again in any case)."""
    unsubscribe(merchant_id, email, source, now)
    db.session.commit()
    recovery.reconsider(merchant_id, email=email)


def unsubscribe(merchant_id: int, email: str, source: str, now: datetime) -> None:
    """Unsubscribe at once, in the ledger with its source (unsubscribe_link or one_click).
    A repeat within a day of the shopper's own unsubscribe (a second click, a mail app posting
    again, a replayed link) adds no ledger entry, so a link cannot fill the history; the
    status's date still moves on, to outrank any older answer not yet received."""
    # One statement, so that the row is judged as it is when written (a change recorded
    # meanwhile, a CSV row or a checkout's answer, is not dated now as if it were this one).
    repeated = db.session.execute(
        update(Contact)
        .where(
            Contact.merchant_id == merchant_id,
            Contact.email == email,
            Contact.status == ConsentStatus.UNSUBSCRIBED,
            Contact.source.in_(SHOPPERS_OWN),
            Contact.updated_at.between(now - REPEAT_WINDOW, now),
        )
        .values(updated_at=now)
        .execution_options(synchronize_session="fetch")
    )
    if repeated.rowcount:
        return
    consent.record(
        [
            consent.Change(
                merchant_id,
                email,
                ConsentStatus.UNSUBSCRIBED,
                source,
                f"{source}-{now.isoformat()}",
                now,
            )
        ]
    )
