"""A shopper's own unsubscribe after a cart's email is part of that cart's story."""

from __future__ import annotations

import re

from sqlalchemy import select

from factories import PASSWORD
from portal.db import utcnow
from portal.models import ConsentChange
from portal.services import consent
from recovery_flow_kit import _path

UNSUBSCRIBED = "Shopper unsubscribed from your emails, with an email&#39;s unsubscribe link"


def _timeline(client, kit, session_id: str) -> str:
    page = client.get(f"/carts/{kit.case(session_id).id}").get_data(as_text=True)
    return re.sub(r"\s+", " ", page)


def test_the_cart_page_tells_of_the_unsubscribe_that_followed_its_email(kit, client, login):
    session_id = kit.checkout("ana@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    message = kit.sink.messages[0].message
    link = message["List-Unsubscribe"].strip("<>")
    login(client, "owner@bean.example", PASSWORD)
    assert UNSUBSCRIBED not in _timeline(client, kit, session_id)
    shopper = client.application.test_client()
    assert shopper.post(_path(link)).status_code == 200  # the page's button, not one-click
    page = _timeline(client, kit, session_id)
    assert page.index("Email 1 sent to ana@example.com") < page.index(UNSUBSCRIBED)


def test_an_unsubscribe_by_a_file_is_not_the_shoppers_story(kit, client, login, db):
    session_id = kit.checkout("bo@example.com")
    kit.action(session_id, "expire")
    kit.settle()
    # After the email, as the shopper's would be: only its source keeps it off the timeline.
    consent.record(
        [consent.Change(kit.merchant_id, "bo@example.com", "unsubscribed", "csv", "f:2", utcnow())]
    )
    db.commit()
    login(client, "owner@bean.example", PASSWORD)
    page = _timeline(client, kit, session_id)
    assert "Email 1 sent to bo@example.com" in page and "Shopper unsubscribed" not in page
    assert "csv" in db.scalars(select(ConsentChange.source)).all()  # it is in the ledger
