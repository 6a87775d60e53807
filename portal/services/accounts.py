"""Merchants, users, passwords and login limits."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError
from sqlalchemy import select

from portal import db
from portal.db import utcnow
from portal.models import Merchant, Role, User
from portal.services import throttle

_hasher = PasswordHasher()
# Verified against when the address is unknown, so both paths take the same time.
_DUMMY_HASH = _hasher.hash("not a real password")

LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_IP = 30


class AccountError(ValueError):
    """A request about accounts that cannot be honoured; the message is for the person."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_merchant(name: str, email: str, password: str, owner_name: str = "") -> User:
    """Create a merchant and its owner; AccountError if the address is taken (caller commits)."""
    email = normalize_email(email)
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError("An account with this email address already exists. Log in instead.")
    merchant = Merchant(name=name.strip())
    owner = User(
        merchant=merchant, email=email, name=owner_name.strip(),
        password_hash=hash_password(password), role=Role.OWNER.value,
    )
    db.session.add_all([merchant, owner])
    db.session.flush()
    return owner


def authenticate(email: str, password: str) -> User | None:
    """The user if the password matches; None otherwise, in constant-ish time."""
    user = db.session.scalar(select(User).where(User.email == normalize_email(email)))
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password)
    except (VerifyMismatchError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


@dataclass(frozen=True)
class LoginKeys:
    email: str
    ip: str


def login_keys(email: str, ip: str) -> LoginKeys:
    return LoginKeys(f"login-email:{normalize_email(email)}", f"login-ip:{ip}")


def login_refusal(email: str, ip: str) -> str | None:
    """Why a login attempt is refused before checking the password, or None if it may go on."""
    keys = login_keys(email, ip)
    minutes = int(LOGIN_WINDOW.total_seconds() // 60)
    if throttle.count(keys.email, LOGIN_WINDOW) >= MAX_FAILURES_PER_EMAIL:
        return f"Too many failed attempts for this address. Try again in {minutes} minutes."
    if throttle.count(keys.ip, LOGIN_WINDOW) >= MAX_FAILURES_PER_IP:
        return f"Too many failed attempts from your network. Try again in {minutes} minutes."
    return None


def record_login_failure(email: str, ip: str) -> None:
    keys = login_keys(email, ip)
    throttle.hit(keys.email)
    throttle.hit(keys.ip)


def record_login_success(user: User, ip: str) -> None:
    """Clear the address's failure count and stamp the login (the IP count stays)."""
    throttle.clear(login_keys(user.email, ip).email)
    user.last_login_at = utcnow()


def load_user(login_id: str) -> User | None:
    """The user behind a login cookie's id (`<id>:<session token>`); None once the token rotated."""
    user_id, _, token = login_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.get(User, int(user_id))
    return user if user is not None and user.session_token == token else None
