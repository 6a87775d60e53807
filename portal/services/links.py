"""Signed links in emails: the tracked recovery link and the per-address unsubscribe link."""
from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer


def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=f"portal.{purpose}")


def _public(path: str) -> str:
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


def recovery_link(send_id: int) -> str:
    return _public("/r/" + _serializer("recovery").dumps({"s": send_id}))


def unsubscribe_link(merchant_id: int, email: str) -> str:
    return _public("/u/" + _serializer("unsubscribe").dumps({"m": merchant_id, "e": email}))


def read_recovery(token: str) -> int | None:
    """The send id in a recovery token; None when the token was not made by this portal."""
    try:
        return int(_serializer("recovery").loads(token)["s"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None


def read_unsubscribe(token: str) -> tuple[int, str] | None:
    """(merchant id, email) in an unsubscribe token; None when it was not made by this portal."""
    try:
        data = _serializer("unsubscribe").loads(token)
        return int(data["m"]), str(data["e"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return None
