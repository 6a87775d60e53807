"""Signed links in emails: the tracked recovery link and the unsubscribe link. Both carry only
a send's id and a MAC: no address appears in a URL (URLs end up in access logs)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from portal.db import MAX_ID
from portal.mail.mime import CONTROL


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"portal.{purpose}")


def _public(path: str) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def recovery_link(send_id: int) -> str:
    """The tracked link of one email: it records the click, then goes to the recovery URL."""
    return _public("/r/" + _serializer("recovery").dumps({"s": send_id}))


def unsubscribe_link(send_id: int) -> str:
    """The unsubscribe link of one email: it unsubscribes that email's address from its merchant."""
    return _public("/u/" + _serializer("unsubscribe").dumps({"s": send_id}))


def _id(value) -> int | None:
    """A row id as our tokens carry it: an int within the id columns' range."""
    return (
        value
        if isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID
        else None
    )


def read_recovery(token: str) -> int | None:
    """The send id in a recovery token; None when the token was not made by this portal."""
    try:
        return _id(_serializer("recovery").loads(token).get("s"))
    except (BadSignature, AttributeError):
        return None


@dataclass(frozen=True)
class UnsubscribeToken:
    """What an unsubscribe link names: a send, or (links mailed before they were opaque) a
    merchant and an address."""

    send_id: int | None = None
    merchant_id: int | None = None
    email: str | None = None


def read_unsubscribe(token: str) -> UnsubscribeToken | None:
    """What the token names; None when it was not made by this portal or names nothing usable."""
    try:
        data = _serializer("unsubscribe").loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    if "s" in data:
        return UnsubscribeToken(send_id=_id(data["s"])) if _id(data["s"]) else None
    merchant_id, email = _id(data.get("m")), data.get("e")
    if (
        merchant_id
        and isinstance(email, str)
        and 3 <= len(email) <= 254
        and not CONTROL.search(email)
    ):
        return UnsubscribeToken(merchant_id=merchant_id, email=email)
    return None
