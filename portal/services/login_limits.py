"""Limits on logging in and signing up, counted in the database (shared by every process).

A login attempt counts against its address from its source (5 failures in 15 minutes), its
source (30), and its address from everywhere (50). An attacker's failures from one place never
refuse the owner elsewhere; a flood against one address from many places is refused too, but
not from a browser that has logged in to that address before (it carries a signed cookie).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete

from portal import db
from portal.db import utcnow
from portal.models import ThrottleHit, User
from portal.services import accounts, throttle
from portal.services.accounts import normalize_email

LOGIN_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5  # from one source
MAX_FAILURES_PER_IP = 30
MAX_FAILURES_PER_ADDRESS = 50  # from every source together, unless the browser is known
SIGNUP_WINDOW = timedelta(hours=1)
MAX_SIGNUPS_PER_IP = 10
DEVICE_COOKIE = "known_device"


@dataclass(frozen=True)
class LoginAttempt:
    """One login attempt, counted before any check."""

    email: str
    hits: list[ThrottleHit]


def _keys(email: str, ip: str) -> tuple[str, str, str]:
    address = normalize_email(email)
    return f"login-email:{address}|{ip}", f"login-ip:{ip}", f"login-address:{address}"


def admit_login(
    email: str, ip: str, known_device: bool = False
) -> tuple[LoginAttempt, str | None]:
    """Count the attempt, then say why it is refused (None: check the password).

    Commits the count before reading it, so that concurrent attempts see each other: of any
    number arriving at once, at most the limit's worth find themselves within it (each one
    counts at least every attempt committed before its own). A refused attempt is uncounted,
    committed too."""
    keys = _keys(email, ip)
    attempt = LoginAttempt(email, [throttle.hit(key) for key in keys])
    db.session.commit()
    refusal = _refusal(keys, known_device)
    if refusal:
        throttle.withdraw(attempt.hits)
        db.session.commit()  # the refusal's page commits nothing
    return attempt, refusal


def _refusal(keys: tuple[str, str, str], known_device: bool) -> str | None:
    pair, source, address = keys
    minutes = int(LOGIN_WINDOW.total_seconds() // 60)
    if throttle.count(pair, LOGIN_WINDOW) > MAX_FAILURES_PER_EMAIL:
        return f"Too many failed attempts for this address. Try again in {minutes} minutes."
    if throttle.count(source, LOGIN_WINDOW) > MAX_FAILURES_PER_IP:
        return f"Too many failed attempts from your network. Try again in {minutes} minutes."
    if not known_device and throttle.count(address, LOGIN_WINDOW) > MAX_FAILURES_PER_ADDRESS:
        return (
            "Too many failed attempts for this address from many places. Log in from a "
            f"device you have used before, or try again in {minutes} minutes."
        )
    return None


def record_login_success(user: User, attempt: LoginAttempt) -> None:
    """Clear the address's count from this source and uncount this attempt; stamp the login."""
    throttle.clear(attempt.hits[0].key)
    throttle.withdraw(attempt.hits)
    user.last_login_at = utcnow()


def forget_failures(email: str) -> None:
    """Clear every failed login counted against `email` (from every source): its owner just
    proved the address theirs by a reset link, and must be able to log in on any device at
    once. The caller commits."""
    address = normalize_email(email)
    db.session.execute(
        delete(ThrottleHit).where(
            ThrottleHit.key.startswith(f"login-email:{address}|", autoescape=True)
            | (ThrottleHit.key == f"login-address:{address}")
        )
    )


def check_password(
    email: str, password: str, ip: str, device: str | None
) -> tuple[User | None, str | None]:
    """The account `password` opens, counted against the login limits of `email` from `ip`
    (`device`: the known-device cookie): (user, None) on success, recorded; (None, refusal)
    when the limits refuse to check it; (None, None) for a wrong password. Commits a refused
    or failed attempt: the count must hold though the caller answers with an error."""
    attempt, refusal = admit_login(email, ip, is_known_device(device, email))
    user = None if refusal else accounts.authenticate(email, password)
    if user is None:
        db.session.commit()
        return None, refusal
    record_login_success(user, attempt)
    return user, None


def _devices() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="portal.known-device")


def device_token(user: User) -> str:
    """The cookie value that marks this browser as one `user` logged in from. It names the
    address by a keyed hash: the cookie outlives a log-out, and whoever reads it later (a
    shared computer) must not learn the address."""
    return _devices().dumps({"u": user.id, "h": _address_mark(user.email)})


def is_known_device(token: str | None, email: str) -> bool:
    """Whether the cookie says this browser logged in to `email` before (cookies of the
    earlier kind, which held the address itself, still count)."""
    try:
        data = _devices().loads(token) if token else None
    except BadSignature:
        return False
    if not isinstance(data, dict):
        return False
    email = normalize_email(email)
    return data.get("h") == _address_mark(email) or data.get("e") == email


def _address_mark(email: str) -> str:
    secret = current_app.config["SECRET_KEY"].encode()
    return hmac.new(secret, f"known-device:{email}".encode(), hashlib.sha256).hexdigest()[:32]


def admit_signup(ip: str) -> str | None:
    """Count a sign-up attempt from `ip`; why it is refused (and uncounted), or None. Commits,
    like admit_login: so that "this address has an account" cannot be used to sweep addresses."""
    key = f"signup-ip:{ip}"
    row = throttle.hit(key)
    db.session.commit()
    if throttle.count(key, SIGNUP_WINDOW) > MAX_SIGNUPS_PER_IP:
        throttle.withdraw([row])
        db.session.commit()  # the refusal's page commits nothing
        return "Too many sign-ups from your network. Try again in an hour."
    return None
