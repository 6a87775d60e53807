"""The Outbox's email in headless Chromium: shown whole at 1280 and 375 px, its scripts inert."""

from __future__ import annotations

import pytest

from factories import PASSWORD, make_owner
from portal import db
from portal.mail.mime import Outgoing, compose
from portal.models import OutboxMessage
import screens

pytestmark = pytest.mark.browser
LONG_HTML = (
    "<html><body style='margin:0'>"
    + "".join(f"<p style='margin:0;height:40px'>Line {n}</p>" for n in range(80))
    + "<p id='footer'>Unsubscribe</p>"
    + "<script>parent.document.title = 'scripted'</script></body></html>"
)


@pytest.mark.parametrize("width", [1280, 375])
def test_a_long_email_shows_whole_and_runs_no_script(live_server, page, width):
    owner = make_owner("Bean Shop", "owner@bean.example")
    raw = compose(
        Outgoing(
            sender_name="Bean Shop",
            sender_address="hello@bean.example",
            to="sam@example.com",
            subject="Your cart",
            text="Your cart is waiting",
            html=LONG_HTML,
            message_id="<1@bean.example>",
        )
    ).as_string()
    row = OutboxMessage(
        merchant_id=owner.merchant_id, to_address="sam@example.com", subject="Your cart", raw=raw
    )
    db.session.add(row)
    db.session.commit()
    page.set_viewport_size({"width": width, "height": 900})
    screens.sign_in(page, live_server, "owner@bean.example", PASSWORD, "Bean Shop")
    page.goto(f"{live_server}/outbox/{row.id}")
    frame = page.locator("iframe.mail-frame")
    page.frame_locator("iframe.mail-frame").locator("#footer").wait_for()
    page.wait_for_function(
        "() => document.querySelector('iframe.mail-frame').getBoundingClientRect().height > 3000"
    )
    box = frame.bounding_box()
    inner = frame.evaluate("f => f.contentDocument.documentElement.scrollHeight")
    assert inner >= 80 * 40 and box["height"] >= inner  # all of it, no scrollbar inside
    assert page.title() != "scripted"
