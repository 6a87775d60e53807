"""Invitations to join a merchant's team as a member (the email itself: account_emails.py).

An invitation's link carries its id and a random nonce, signed with SECRET_KEY; the row keeps
only a hash of the nonce, so neither a copy of the database nor a guessed id makes a working
link. A link works once, for 7 days, unless the owner revokes it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from portal import db
from portal.db import MAX_ID, utcnow
from portal.mail.mime import CONTROL
from portal.models import Invitation, InvitationStatus, Merchant, Role, User
from portal.services import throttle
from portal.services.accounts import AccountError, email_taken, hash_password
from portal.services.accounts import new_address_problem, normalize_email

LIFETIME = timedelta(days=7)
WINDOW = timedelta(days=1)
MAX_PER_MERCHANT = 20  # invitations a merchant may send per WINDOW: each one is an email
# ...and one address gets at most this many per WINDOW from all merchants together: a new
# merchant is one sign-up away, and an invitation's subject carries the inviter's words.
MAX_PER_ADDRESS = 3
RESEND_AFTER = timedelta(minutes=1)  # a second invitation to one address sooner is a double click
TAKEN = "This address already has an account on Cart Recovery, and an address can belong to "
TAKEN += "one team only."


def _taken_words(merchant: Merchant, inviter: User, email: str) -> str:
    """Why an address with an account cannot be invited, said as plainly as it may be."""
    if email == normalize_email(inviter.email):
        return "That is your own address: you are on the team already."
    on_team = select(User.id).where(User.merchant_id == merchant.id, User.email == email)
    if db.session.scalar(on_team) is not None:
        return "This address is on your team already: see the list below."
    return TAKEN.removesuffix(".") + ": invite another address of theirs."


class NoLongerPending(AccountError):
    """The invitation was accepted, revoked or expired before this acceptance could claim it."""


class Refused(AccountError):
    """The merchant sent its day's worth of invitations: nothing was sent or counted."""


class JustSent(AccountError):
    """The same address was invited moments ago (a double click): nothing more was sent."""


def invite(
    merchant: Merchant, inviter: User, email: str, name: str = ""
) -> tuple[Invitation, str]:
    """A pending invitation to `email` and the token of its link; an earlier pending invitation
    to the same address from this merchant stops working. AccountError if the address already
    has an account (counted against the merchant's limit), cannot be written to or was sent
    MAX_PER_ADDRESS invitations in the last WINDOW; Refused past the merchant's
    MAX_PER_MERCHANT; JustSent when the same address was invited within RESEND_AFTER. The
    caller commits an invitation; other refusals are uncounted, committed here (the counts are
    committed before they are read: see _admit)."""
    email, name = normalize_email(email), (name or "").strip()
    if problem := new_address_problem(email):
        raise AccountError(problem)
    if CONTROL.search(name):  # refused here: a member's name goes into email subjects later
        raise AccountError("The name must be one line of plain text.")
    counted = _admit(merchant, email)
    if email_taken(email):
        # Counted against the merchant all the same: were it not, past the day's limit this
        # answer, not the limit's, would tell anyone which addresses have an account.
        throttle.withdraw(counted[1:])
        db.session.commit()
        raise AccountError(_taken_words(merchant, inviter, email))
    now = _retire_earlier(merchant, email, counted)
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


def _retire_earlier(merchant: Merchant, email: str, counted: list) -> datetime:
    """Revoke the merchant's pending invitations to `email` and return the time of the new one;
    JustSent (its counts withdrawn and committed) when one is younger than RESEND_AFTER."""
    # Held until the caller commits: a second invitation sent at once waits here, then sees
    # the first as just sent.
    db.session.scalar(select(Merchant.id).where(Merchant.id == merchant.id).with_for_update())
    now = utcnow()
    earlier = [inv for inv in pending(merchant) if inv.email == email]
    if earlier and now - earlier[0].created_at < RESEND_AFTER:
        throttle.withdraw(counted)
        db.session.commit()
        raise JustSent(f"{email} was invited moments ago: the invitation is listed below.")
    for invitation in earlier:
        invitation.revoked_at = now
    return now


def _admit(merchant: Merchant, email: str) -> list:
    """Count one invitation for the merchant and one for the address, or refuse it past either
    limit (then neither is counted). Invitations under the same keys are counted one at a time
    (throttle.hold): of many sent at once, exactly the limit's worth go. Returns the counts, to
    withdraw them; commits."""
    keys = (f"invite-merchant:{merchant.id}", f"invite-address:{email}")
    throttle.hold(keys)
    counted = [throttle.hit(key) for key in keys]
    db.session.flush()
    limits = (MAX_PER_MERCHANT, MAX_PER_ADDRESS)
    over = [throttle.count(key, WINDOW) > most for key, most in zip(keys, limits)]
    if any(over):
        throttle.withdraw(counted)
    db.session.commit()  # the next invitation under these keys counts this one
    if over[0]:
        raise Refused(
            f"You have sent {MAX_PER_MERCHANT} invitations in the last 24 hours, the limit. "
            "Try again tomorrow."
        )
    if over[1]:
        raise AccountError(
            f"This address was sent {MAX_PER_ADDRESS} invitations in the last 24 hours, the "
            "most one address gets in a day. Try again tomorrow."
        )
    return counted


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
