"""The one delivery path: SMTP when SMTP_URL is set, the development outbox otherwise."""

from __future__ import annotations

import threading

from flask import current_app

from portal import db
from portal.models import OutboxMessage
from portal.mail.smtp import DeliveryResult, DeliveryStatus, Mailer, parse_smtp_url
from portal.mail.mime import Composed

_mailers: dict[tuple[str, int], Mailer] = {}
_lock = threading.Lock()

OUTBOX_DETAIL = "kept in the development outbox"  # what a send says when no server is set up


def mailer_for(url: str) -> Mailer:
    """This thread's mailer for `url`: one SMTP connection, reused from message to message. One
    per thread, because a connection carries one conversation at a time (a web process's
    threads send invitations and test emails at once)."""
    key = (url, threading.get_ident())
    with _lock:
        if key not in _mailers:
            _mailers[key] = Mailer(parse_smtp_url(url))
        return _mailers[key]


def send(message: Composed, merchant_id: int | None) -> DeliveryResult:
    """Deliver one message; the outbox keeps it instead when no SMTP server is configured."""
    url = current_app.config["SMTP_URL"]
    if url:
        return mailer_for(url).send(message)
    db.session.add(
        OutboxMessage(
            merchant_id=merchant_id,
            to_address=message.recipient,
            subject=message.subject,
            raw=message.as_string(),
        )
    )
    return DeliveryResult(DeliveryStatus.SENT, 250, OUTBOX_DETAIL)


def close_all() -> None:
    """Close every kept-alive SMTP connection of this process (at exit, and between tests)."""
    with _lock:
        for mailer in _mailers.values():
            mailer.close()
        _mailers.clear()
