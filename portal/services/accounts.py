"""Merchants, users, passwords and sessions (login limits: login_limits.py)."""

from __future__ import annotations

import hmac
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from portal import db
from portal.db import utcnow
from portal.models import Merchant, Role, User
from portal.models.account import new_session_token
from portal.mail.mime import CONTROL
from portal.services import addresses
from portal.services.domain_names import unreachable

_hasher = PasswordHasher()


@cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown addresses (so they take as long as known ones).
    Made on first use, not at import: hashing takes argon2's 64 MiB, which every worker process
    would otherwise carry as its peak memory without ever logging anyone in."""
    return _hasher.hash("not a real password")


class AccountError(ValueError):
    """A request about accounts that cannot be honoured; the message is for the person."""


EMAIL_TAKEN = "An account with this email address already exists. Log in instead."


def normalize_email(email: str) -> str:
    return email.strip().lower()


def new_address_problem(email: str) -> str | None:
    """Why no account or invitation can be made for `email` (None: one can), in words: the
    portal's mail must reach it, so its domain passes domain_names.unreachable's rule and mail
    can carry it (addresses.sendable_problem)."""
    email = normalize_email(email)
    if reason := unreachable(email.rpartition("@")[2]):
        return f"{reason}."
    return addresses.sendable_problem(email)


def email_taken(email: str) -> bool:
    """Whether a user (of any merchant) signs in with this address."""
    stmt = select(User.id).where(User.email == normalize_email(email))
    return db.session.scalar(stmt) is not None


PASSWORD_LENGTHS = (10, 256)


def password_problem(password: str) -> str | None:
    """What is wrong with a new password, in words (None: nothing): 10 to 256 characters, none
    a control character (no keyboard types one: a password holding one could only be sent by a
    script). It says which end was missed and by how much, since a form's hint states the rule."""
    shortest, longest = PASSWORD_LENGTHS
    if CONTROL.search(password):
        return "Use characters a keyboard types: this contains a control character."
    if len(password) < shortest:
        has = f"{len(password)} character" + ("" if len(password) == 1 else "s")
        return f"Too short: this has {has}, {shortest} are needed."
    if len(password) > longest:
        return f"Too long: use at most {longest} characters (this has {len(password)})."
    return None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_merchant(name: str, email: str, password: str, owner_name: str = "") -> User:
    """Create a merchant and its owner; AccountError if the address is taken or a name holds a
    control character (the caller commits)."""
    email = normalize_email(email)
    for label, text in (("business name", name), ("your name", owner_name)):
        if CONTROL.search(text):  # refused here, never at send time (names go into mail headers)
            raise AccountError(f"The {label} must be one line of plain text.")
    if email_taken(email):
        raise AccountError(EMAIL_TAKEN)
    merchant = Merchant(name=name.strip())
    owner = User(
        merchant=merchant,
        email=email,
        name=owner_name.strip(),
        password_hash=hash_password(password),
        role=Role.OWNER,
    )
    try:
        with db.session.begin_nested():  # a double click: the address's unique key decides
            db.session.add_all([merchant, owner])
    except IntegrityError:
        raise AccountError(EMAIL_TAKEN) from None
    return owner


def owner_of(merchant_id: int) -> User | None:
    """The merchant's owner (the first, should there ever be more than one)."""
    query = select(User).where(User.merchant_id == merchant_id, User.role == Role.OWNER)
    return db.session.scalars(query.order_by(User.id)).first()


def rename_business(merchant: Merchant, name: str) -> None:
    """The business name every email and page shows (checked by the form: one line, at most
    200 characters). The caller commits."""
    merchant.name = name


def rename_user(user: User, name: str) -> None:
    """The person's own name, as the team page and invitations show it (checked by the form:
    one line, at most 200 characters). The caller commits."""
    user.name = name


def authenticate(email: str, password: str) -> User | None:
    """The user if the password matches; None otherwise, in constant-ish time."""
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    try:
        _hasher.verify(user.password_hash if user else _dummy_hash(), password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def end_sessions(user: User) -> None:
    """Sign the user out everywhere: every session and remember-me cookie issued so far stops
    working (their login id carries the old token). The caller commits."""
    user.session_token = new_session_token()


def set_password(user: User, password: str) -> None:
    """Change the password and end every session made with the old one (the caller commits)."""
    user.password_hash = hash_password(password)
    end_sessions(user)


def remove_member(merchant: Merchant, member: User, by: User) -> None:
    """Delete a member of `merchant`: every session of theirs ends with the row (load_user finds
    nobody). AccountError for the owner, for oneself, or for another merchant's user (the
    caller commits)."""
    if member.merchant_id != merchant.id:
        raise AccountError("This person is not on your team.")
    if member.is_owner or member.id == by.id:
        raise AccountError("The owner cannot be removed from the team.")
    db.session.delete(member)


def stamp_login(user: User) -> None:
    """Record that `user` signed in now, whichever way (the team page's "last login"; the
    caller commits)."""
    user.last_login_at = utcnow()


def load_user(login_id: str) -> User | None:
    """The user behind a login cookie's id (`<id>:<session token>`); None once the token rotated."""
    user_id, _, token = login_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.session_token:
        return None
    # In constant time: how much of a guessed token matched must not show in the answer's time.
    return user if hmac.compare_digest(user.session_token.encode(), token.encode()) else None
