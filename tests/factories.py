"""Factories: real rows through the real services, committed."""

from __future__ import annotations

import itertools

from portal import db
from portal.mail.mime import Outgoing, compose
from portal.models import OutboxMessage, Role, User
from portal.services import accounts, connections

PASSWORD = "correct horse battery"
_seq = itertools.count(1)


def make_owner(
    name: str | None = None, email: str | None = None, password: str = PASSWORD
) -> User:
    """A new merchant with its owner user."""
    n = next(_seq)
    user = accounts.create_merchant(
        name or f"Shop {n}", email or f"owner{n}@example.com", password
    )
    db.session.commit()
    return user


def make_member(merchant_id: int, email: str | None = None, password: str = PASSWORD) -> User:
    """A member user added to an existing merchant."""
    user = User(
        merchant_id=merchant_id,
        email=email or f"member{next(_seq)}@example.com",
        password_hash=accounts.hash_password(password),
        role=Role.MEMBER.value,
    )
    db.session.add(user)
    db.session.commit()
    return user


def make_connected(account_id: str = "acct_1ExampleMerchant01", **owner) -> User:
    """A merchant whose Stripe account (Connect) is `account_id`."""
    user = make_owner(**owner)
    connections.link_account(user.merchant, account_id, livemode=True, method="oauth")
    db.session.commit()
    return user


def make_direct(keys: str, secret: str = "whsec_merchant_own", **owner) -> User:
    """A merchant in direct mode: its own restricted key, and `secret` signing the events of
    its own endpoint (`keys`: the app's ENCRYPTION_KEY, which seals both)."""
    user = make_owner(**owner)
    connections.link_account(
        user.merchant,
        "acct_1Direct",
        livemode=True,
        method="direct",
        api_key="rk_live_x",
        webhook_secret=secret,
        keys=keys,
    )
    db.session.commit()
    return user


def make_outbox_message(merchant_id: int, subject: str, html: str) -> OutboxMessage:
    """An email to sam@example.com as the development outbox keeps one."""
    message = compose(
        Outgoing(
            sender_name="Shop",
            sender_address="hello@shop.example",
            to="sam@example.com",
            subject=subject,
            text="Your cart is waiting",
            html=html,
            message_id="<1@shop.example>",
        )
    )
    row = OutboxMessage(
        merchant_id=merchant_id,
        to_address="sam@example.com",
        subject=subject,
        raw=message.as_string(),
    )
    db.session.add(row)
    db.session.commit()
    return row
