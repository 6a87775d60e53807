"""Password reset by email (the email itself: account_emails.py).

A reset link is signed with SECRET_KEY and names the user, when it was made, and a keyed digest
of the user's current password hash: it works for an hour, and only until the password changes,
so once it has been used (or the password changed any other way) it is refused. Requests are
counted per address and per source, and the answer never says whether an account exists.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from enum import StrEnum

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select

from portal import db
from portal.db import MAX_ID, utcnow
from portal.models import User
from portal.services import accounts, throttle

LIFETIME = timedelta(hours=1)
WINDOW = timedelta(hours=1)
MAX_PER_ADDRESS = 5
MAX_PER_SOURCE = 20


class Admission(StrEnum):
    SEND = "send"  # within every limit: email the address if it has an account
    QUIET = "quiet"  # the address had its share: the same answer, but no email
    REFUSED = "refused"  # the source had its share: say so (this tells nothing about accounts)


class LinkProblem(StrEnum):
    INVALID = "invalid"  # not made by this portal, or cut short
    EXPIRED = "expired"
    USED = "used"  # the password changed since the link was made


def admit(email: str, source: str) -> Admission:
    """Count one reset request for `email` from `source`, known address or not, and say what
    to do with it. Commits the count before reading it (as login_limits.admit_login does), so
    that requests arriving at once see each other; a request over a limit is uncounted, committed
    too."""
    keys = f"reset-address:{accounts.normalize_email(email)}", f"reset-source:{source}"
    hits = [throttle.hit(key) for key in keys]
    db.session.commit()
    if throttle.count(keys[1], WINDOW) > MAX_PER_SOURCE:
        admission = Admission.REFUSED
    elif throttle.count(keys[0], WINDOW) > MAX_PER_ADDRESS:
        admission = Admission.QUIET
    else:
        return Admission.SEND
    throttle.withdraw(hits)
    db.session.commit()  # neither answer's page commits
    return admission


def account_for(email: str) -> User | None:
    """The user who signs in with `email`, if we can email them (ASCII addresses only)."""
    user = db.session.scalar(select(User).where(User.email == accounts.normalize_email(email)))
    return user if user is not None and user.email.isascii() else None


def make_token(user: User) -> str:
    """The token of a reset link for `user`, good for LIFETIME and one password change."""
    payload = {"u": user.id, "t": int(utcnow().timestamp()), "p": _fingerprint(user)}
    return _serializer().dumps(payload)


def read_token(token: str, lock: bool = False) -> tuple[User | None, LinkProblem | None]:
    """The user a reset link is for, or None and what is wrong with the link. With `lock`, the
    user's row stays locked until commit, so two uses of one link at once cannot both pass."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None, LinkProblem.INVALID
    data = data if isinstance(data, dict) else {}
    user_id, made, digest = data.get("u"), data.get("t"), data.get("p")
    if not (_is_id(user_id) and isinstance(made, int) and isinstance(digest, str)):
        return None, LinkProblem.INVALID
    if utcnow().timestamp() - made > LIFETIME.total_seconds():
        return None, LinkProblem.EXPIRED
    stmt = select(User).where(User.id == user_id).execution_options(populate_existing=True)
    user = db.session.scalar(stmt.with_for_update() if lock else stmt)
    if user is None:
        return None, LinkProblem.INVALID
    if not hmac.compare_digest(digest, _fingerprint(user)):
        return None, LinkProblem.USED
    return user, None


def _fingerprint(user: User) -> str:
    """A keyed digest of the password hash: changes with the password, reveals nothing of it."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, user.password_hash.encode(), hashlib.sha256).hexdigest()[:32]


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="portal.password-reset")


def _is_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID
