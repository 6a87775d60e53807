"""Inviting a teammate and reading the link out of the development outbox."""

from __future__ import annotations

import re
from email import message_from_string, policy

from sqlalchemy import select

from factories import PASSWORD, make_owner
from helpers import post_form
from portal.models import OutboxMessage

NEW_PASSWORD = "a teammate's own password"
LINK = re.compile(r"https?://[^/\s]+(/invite/[^\s<>\"]+)")


def outbox(db, to: str | None = None) -> list:
    """The messages kept in the development outbox (to `to`), parsed, oldest first."""
    rows = db.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    return [
        message_from_string(row.raw, policy=policy.default)
        for row in rows
        if to is None or row.to_address == to
    ]


def invite_link(message) -> str:
    """The invitation link's path, from the text part; the HTML part must carry the same."""
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    path = LINK.search(text).group(1)
    assert html.count(path) == 3, "the button, and the link written out (href and text)"
    return path


def invite(client, email: str, name: str = ""):
    return post_form(client, "/team/invitations", {"email": email, "name": name}, page="/team/")


def signed_in_owner(client, login, **owner):
    owner = make_owner(**owner)
    assert login(client, owner.email, PASSWORD).status_code == 302
    return owner


def accept(client, path: str, name: str = "Nia", password: str = NEW_PASSWORD):
    data = {"name": name, "password": password, "confirm": password}
    return post_form(client, path, data)
