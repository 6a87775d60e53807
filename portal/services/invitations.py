"""Invitations to join a merchant's team as a member (the email itself: account_emails.py).

An invitation's link carries its id and a random nonce, signed with SECRET_KEY; the row keeps
only a hash of the nonce, so neither a copy of the database nor a guessed id makes a working
link. A link works once, for 7 days, unless the owner revokes it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import db
from portal.db import MAX_ID, utcnow
from portal.mail.mime import CONTROL
from portal.models import Invitation, InvitationStatus, Merchant, Role, User
from portal.services import throttle
from portal.services.accounts import AccountError, email_taken, hash_password, normalize_email

LIFETIME = timedelta(days=7)
WINDOW = timedelta(days=1)
MAX_PER_MERCHANT = 20  # invitations a merchant may send per WINDOW: each one is an email
# ...and one address gets at most this many per WINDOW from all merchants together: a new
# merchant is one sign-up away, and an invitation's subject carries the inviter's words.
MAX_PER_ADDRESS = 3
TAKEN = "This address already has an account on Cart Recovery, and an address can belong to "
TAKEN += "one team only."


class NoLongerPending(AccountError):
    """The invitation was accepted, revoked or expired before this acceptance could claim it."""


def admit(merchant: Merchant) -> str | None:
    """Count one invitation for `merchant`; why it is refused, or None.

    Commits the count before reading it (as login_limits.admit_signup does), so that of many
    invitations sent at once no more than the limit's worth go out. A refused one is uncounted."""
    key = f"invite-merchant:{merchant.id}"
    row = throttle.hit(key)
    db.session.commit()
    if throttle.count(key, WINDOW) > MAX_PER_MERCHANT:
        throttle.withdraw([row])
        return (
            f"You have sent {MAX_PER_MERCHANT} invitations in the last 24 hours, the limit. "
            "Try again tomorrow."
        )
    return None


def invite(
    merchant: Merchant, inviter: User, email: str, name: str = ""
) -> tuple[Invitation, str]:
    """A pending invitation to `email` and the token of its link; an earlier pending invitation
    to the same address from this merchant stops working. AccountError if the address already
    has an account, cannot be written to or was sent MAX_PER_ADDRESS invitations in the last
    WINDOW (the caller commits)."""
    email, name = normalize_email(email), (name or "").strip()
    if not email.isascii():  # mime.compose sends to plain ASCII addresses only
        raise AccountError("Use an address in plain ASCII letters: we cannot email this one.")
    if CONTROL.search(name):  # refused here: a member's name goes into email subjects later
        raise AccountError("The name must be one line of plain text.")
    if email_taken(email):
        raise AccountError(TAKEN)
    _admit_address(email)
    now = utcnow()
    for earlier in pending(merchant):
        if earlier.email == email:
            earlier.revoked_at = now
    nonce = secrets.token_urlsafe(24)
    invitation = Invitation(
        merchant=merchant,
        email=email,
        name=name,
        invited_by=inviter,
        token_hash=_digest(nonce),
        created_at=now,
        expires_at=now + LIFETIME,
    )
    db.session.add(invitation)
    db.session.flush()
    return invitation, _serializer().dumps({"i": invitation.id, "n": nonce})


def _admit_address(email: str) -> None:
    """Count one invitation to `email`, or refuse it (AccountError) past MAX_PER_ADDRESS in
    WINDOW from all merchants. Counted, committed, then read (as admit): invitations sent at
    once stay within the limit; a refused one is uncounted."""
    counted = throttle.hit(f"invite-address:{email}")
    db.session.commit()
    if throttle.count(f"invite-address:{email}", WINDOW) > MAX_PER_ADDRESS:
        throttle.withdraw([counted])
        db.session.commit()
        raise AccountError(
            f"This address was sent {MAX_PER_ADDRESS} invitations in the last 24 hours, the "
            "most one address gets in a day. Try again tomorrow."
        )


def pending(merchant: Merchant) -> list[Invitation]:
    """The merchant's invitations that can still be accepted, newest first."""
    stmt = (
        select(Invitation)
        .where(
            Invitation.merchant_id == merchant.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.id.desc())
    )
    return list(db.session.scalars(stmt))


def revoke(merchant: Merchant, invitation: Invitation) -> None:
    """Make a pending invitation's link stop working; no change to one already used or ended
    (the caller commits)."""
    if invitation.merchant_id == merchant.id and status(invitation) == InvitationStatus.PENDING:
        invitation.revoked_at = utcnow()


def status(invitation: Invitation) -> InvitationStatus:
    """What the invitation's link does now."""
    return invitation.status_at(utcnow())


def from_token(token: str) -> Invitation | None:
    """The invitation a link names, whatever its status; None when this portal did not make the
    link (or it was cut short)."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    ident, nonce = (data.get("i"), data.get("n")) if isinstance(data, dict) else (None, None)
    if not (isinstance(ident, int) and 0 < ident <= MAX_ID and isinstance(nonce, str)):
        return None
    invitation = db.session.get(Invitation, ident)
    if invitation is None or not hmac.compare_digest(invitation.token_hash, _digest(nonce)):
        return None
    return invitation


def accept(invitation: Invitation, name: str, password: str) -> User:
    """The new member the invitation makes; NoLongerPending
    when it is no longer pending, AccountError when the address got an account meanwhile (the
    caller commits).

    The invitation is claimed with one conditional UPDATE: of two acceptances at once, the
    second waits for the first and then finds it used."""
    now = utcnow()
    claim = (
        update(Invitation)
        .where(
            Invitation.id == invitation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now)
    )
    if db.session.execute(claim).rowcount != 1:
        raise NoLongerPending("This invitation can no longer be used.")
    member = User(
        merchant_id=invitation.merchant_id,
        email=invitation.email,
        name=name.strip(),
        password_hash=hash_password(password),
        role=Role.MEMBER,
    )
    try:
        with db.session.begin_nested():  # the address's unique key settles a race with sign-up
            db.session.add(member)
    except IntegrityError:
        raise AccountError(TAKEN) from None
    return member


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="portal.invitation")


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()
