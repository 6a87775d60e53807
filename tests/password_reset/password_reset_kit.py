"""Asking for a password reset and reading its link out of the development outbox."""

from __future__ import annotations

import re
from email import message_from_string, policy

from sqlalchemy import select

from helpers import post_form
from portal import worker
from portal.extensions import rq
from portal.models import OutboxMessage

NEW = "a brand new password"
LINK = re.compile(r"https?://[^/\s]+(/password/reset/[^\s<>\"]+)")
NEUTRAL = "If an account exists for that address, we sent a link"


def sent(db) -> list:
    rows = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    return [message_from_string(row.raw, policy=policy.default) for row in rows]


def reset_link(message) -> str:
    text = message.get_body(("plain",)).get_content()
    path = LINK.search(text).group(1)
    assert path in message.get_body(("html",)).get_content()
    return path


def forgot(client, email: str):
    """Ask for a link, following the redirect to the answer page; then a worker sends it."""
    answer = post_form(client, "/password/forgot", {"email": email}, follow_redirects=True)
    worker.run(client.application, rq.connection, [rq.queue("mail")], burst=True)
    return answer
