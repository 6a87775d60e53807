"""The Outbox's email in headless Chromium: shown whole at 1280 and 375 px, its scripts inert."""

from __future__ import annotations

import pytest

from factories import PASSWORD, make_outbox_message, make_owner
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
    row = make_outbox_message(owner.merchant_id, "Your cart", LONG_HTML)
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
