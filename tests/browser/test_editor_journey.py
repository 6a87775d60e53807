"""The email editor in headless Chromium: the preview follows the typing in both frames, a
placeholder goes in from its menu, the page fits 1280 and 375 px, and a test email goes
through the real queue and worker to an SMTP server, its status followed on the page. Settings
shares the editor's guard over edits not saved, tested here too."""

from __future__ import annotations


import pytest
from playwright.sync_api import expect
from rq import Queue
from sqlalchemy import select

from factories import PASSWORD, make_member, make_owner
from portal import db, worker
from portal.extensions import rq
from portal.models import EmailVersion, User
import screens

pytestmark = pytest.mark.browser
FRAMES = ("iframe.frame-desktop", "iframe.frame-mobile")


@pytest.fixture
def portal(app, live_server, redis_conn, sink, monkeypatch) -> str:
    """The portal on loopback, queueing on the test Redis and sending to the SMTP sink."""
    monkeypatch.setattr(rq, "connection", redis_conn)
    monkeypatch.setitem(app.config, "PUBLIC_URL", live_server)
    monkeypatch.setitem(app.config, "SMTP_URL", sink.url())
    make_owner("Bean Shop", "owner@bean.example")
    return live_server


def _sign_in(page, base: str) -> None:
    screens.sign_in(page, base, "owner@bean.example", PASSWORD, "Bean Shop")


def _shoot(page, name: str) -> None:
    screens.shoot(page, f"editor-{name}", before=_whole_page_painted)


def _whole_page_painted(page, width: int) -> None:
    # Chromium paints an iframe only where the viewport has been: make it the whole page.
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": width, "height": height})
    _frames_show(page, "Return to your cart")
    page.wait_for_timeout(300)


def _frames_show(page, text: str) -> None:
    for frame in FRAMES:
        expect(page.frame_locator(frame).locator("body")).to_contain_text(text)


def test_edit_with_the_preview_following_then_save(portal, page):
    _sign_in(page, portal)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Email").click()
    page.get_by_role("heading", name="Recovery email").wait_for()
    _frames_show(page, "Still thinking it over?")

    page.get_by_label("Headline").fill("Fresh beans for Alex")
    _frames_show(page, "Fresh beans for Alex")  # both previews changed, nothing submitted
    assert page.url == f"{portal}/email/1"
    page.get_by_label("Headline").press("End")
    page.get_by_label("Headline").type(", total ")
    headline = page.locator(".field").filter(has=page.get_by_label("Headline"))
    headline.get_by_text("Insert placeholder").click()
    headline.get_by_role("button", name="{cart_total}").click()
    assert (
        page.get_by_label("Headline").input_value() == "Fresh beans for Alex, total {cart_total}"
    )
    _frames_show(page, "Fresh beans for Alex, total $121.00")
    # In a field the cursor was never put in, a placeholder goes at the end, after a space.
    button_label = page.get_by_label("Button label")
    before = button_label.input_value()
    label_field = page.locator(".field").filter(has=button_label)
    label_field.get_by_text("Insert placeholder").click()
    label_field.get_by_role("button", name="{cart_total}").click()
    assert button_label.input_value() == f"{before} {{cart_total}}"
    button_label.fill(before)

    page.get_by_role("link", name="Plain text").click()
    expect(page.locator("pre.plain-text")).to_contain_text("Fresh beans for Alex, total $121.00")
    expect(page.locator(FRAMES[0])).to_be_hidden()
    page.get_by_role("link", name="HTML", exact=True).click()
    expect(page.locator(FRAMES[0])).to_be_visible()

    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved as version 1.").wait_for()
    _frames_show(page, "Fresh beans for Alex, total $121.00")
    db.session.remove()  # a fresh look at what the browser saved
    saved = db.session.scalars(select(EmailVersion.headline)).all()
    assert saved == ["Fresh beans for Alex, total {cart_total}"]
    _shoot(page, "saved")


def test_a_refused_saves_marks_go_once_their_fields_are_edited(portal, page):
    _sign_in(page, portal)
    page.goto(f"{portal}/email/1")
    page.get_by_label("Brand colour", exact=True).fill("teal")
    page.get_by_label("Headline").fill("")
    page.get_by_role("button", name="Save").click()
    notice = page.locator("#save-failed")
    expect(notice).to_be_visible()
    expect(page.locator(".field.has-error")).to_have_count(2)
    page.get_by_label("Brand colour", exact=True).fill("#0f766e")
    expect(page.locator(".field.has-error")).to_have_count(1)  # the headline is still empty
    expect(notice).to_be_visible()
    page.get_by_label("Headline").fill("Still thinking?")
    expect(page.locator(".field.has-error")).to_have_count(0)
    expect(notice).to_have_count(0)
    _frames_show(page, "Still thinking?")


def test_a_test_email_reaches_sent_and_the_smtp_server(app, portal, redis_conn, sink, page):
    _sign_in(page, portal)
    page.goto(f"{portal}/email/1")
    page.get_by_label("Subject").fill("A note from {merchant_name}")
    page.get_by_role("button", name="Send test email").click()
    tests = page.locator("#tests")
    # The answer shows beside the button: on a phone the list is far down the page.
    expect(page.locator("#test-notice")).to_contain_text(
        "Test email queued for owner@bean.example."
    )
    expect(tests.locator(".test-status")).to_have_text("Queued")
    expect(page.locator(".inbox-subject")).to_have_text("A note from Bean Shop")  # refreshed
    _shoot(page, "test-queued")

    queues = [Queue(name, connection=redis_conn) for name in ("events", "mail", "default")]
    assert worker.run(app, redis_conn, queues, burst=True)
    expect(tests.locator(".test-status")).to_have_text("Sent", timeout=10_000)  # polled
    expect(tests).to_contain_text("250 2.0.0 OK queued as 1")
    expect(tests.locator("li")).to_have_count(1)  # the pending preview sent no second one
    [received] = sink.wait_for(1)
    message = received.message
    assert received.rcpt_tos == ("owner@bean.example",)
    assert message["Subject"] == "[Test] A note from Bean Shop"
    assert message.get_body(("html",)) and message.get_body(("plain",))
    assert page.get_by_label("Subject").input_value() == "A note from {merchant_name}"


def test_without_javascript_the_preview_button_and_the_tabs_still_work(portal, browser):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 375, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    _sign_in(page, portal)
    page.goto(f"{portal}/email/1")
    body = page.locator(".field").filter(has=page.get_by_label("Body"))
    body.get_by_text("Insert placeholder").click()
    expect(body.get_by_text("Type one as shown, in single braces")).to_be_visible()
    page.get_by_label("Headline").fill("No script needed")
    page.get_by_role("button", name="Preview").click()
    page.wait_for_url(f"{portal}/email/1/preview#preview-title")  # the phone shows the preview
    assert (
        page.evaluate("document.getElementById('preview-title').getBoundingClientRect().top") < 900
    )
    _frames_show(page, "No script needed")
    assert page.get_by_label("Headline").input_value() == "No script needed"
    page.get_by_role("link", name="Plain text").click()
    expect(page.locator("pre.plain-text")).to_contain_text("No script needed")
    expect(page.locator(FRAMES[1])).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    db.session.remove()
    assert db.session.scalars(select(EmailVersion)).all() == []  # previewing saves nothing
    context.close()


def test_leaving_with_edits_not_saved_asks_first(portal, page):
    _sign_in(page, portal)
    page.goto(f"{portal}/email/1")
    page.get_by_label("Headline").click()
    page.keyboard.type(" today")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    menu = page.get_by_role("navigation", name="Main")
    menu.get_by_role("link", name="Carts").click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"] and page.url == f"{portal}/email/1"  # stayed
    page.get_by_role("button", name="Save").click()  # saving carries the edits: no question
    page.get_by_text("Saved as version 1.").wait_for()
    menu.get_by_role("link", name="Carts").click()
    page.wait_for_url(f"{portal}/carts/")
    assert asked == ["beforeunload"]


FITTED = """([selector, scale]) => {
    const frame = document.querySelector(selector);
    const inner = frame.contentDocument.documentElement.scrollHeight;
    const box = frame.getBoundingClientRect().height;
    return inner > 0 && Math.abs(box - inner * scale) <= 4;
}"""


@pytest.mark.parametrize("width, mobile_scale", [(1280, 1), (375, 0.8)])
def test_the_preview_frames_are_as_tall_as_the_email_even_after_it_grows(
    portal, page, width, mobile_scale
):
    page.set_viewport_size({"width": width, "height": 900})
    _sign_in(page, portal)
    page.goto(f"{portal}/email/1")
    desktop_scale = 1 if width > 700 else 0.5  # at 375 the 600 px frame is drawn at half size
    page.wait_for_function(FITTED, arg=[FRAMES[0], desktop_scale])
    page.wait_for_function(FITTED, arg=[FRAMES[1], mobile_scale])
    short = page.locator(FRAMES[1]).bounding_box()["height"]
    # A long body: the preview htmx swaps in is measured again, so its footer is not cut.
    page.get_by_label("Body").fill("\n\n".join(f"Paragraph {n} of the letter." for n in range(40)))
    _frames_show(page, "Paragraph 39 of the letter.")
    page.wait_for_function(FITTED, arg=[FRAMES[0], desktop_scale])
    page.wait_for_function(FITTED, arg=[FRAMES[1], mobile_scale])
    assert page.locator(FRAMES[1]).bounding_box()["height"] > short + 1000
    below = page.locator(FRAMES[1]).evaluate(
        "f => f.parentElement.getBoundingClientRect().bottom - f.getBoundingClientRect().bottom"
    )
    assert abs(below) <= 4  # the scaled frame's box gives back the room its scaling frees
    assert page.evaluate("document.documentElement.scrollWidth") <= width


def test_settings_with_edits_not_saved_ask_before_the_page_is_left(portal, page):
    _sign_in(page, portal)
    page.goto(f"{portal}/settings")
    page.get_by_label("Reply-to address").fill("orders@bean.example")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.type), dialog.dismiss()))
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Carts").click()
    page.wait_for_timeout(500)
    assert asked == ["beforeunload"] and page.url == f"{portal}/settings"  # stayed
    assert page.get_by_label("Reply-to address").input_value() == "orders@bean.example"
    page.get_by_role("button", name="Save settings").click()  # saving: no question
    page.wait_for_load_state()
    assert asked == ["beforeunload"]


def test_edits_sent_after_the_session_ended_are_offered_back_after_logging_in(portal, page):
    _sign_in(page, portal)
    page.goto(f"{portal}/email/1")
    page.get_by_label("Headline").fill("Typed before the session ended")
    page.context.clear_cookies()  # logged out elsewhere, or the browser forgot the session
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Your session had ended, so nothing was saved").wait_for()
    page.get_by_label("Email").fill("owner@bean.example")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{portal}/email/1")
    notice = page.locator(".kept-edits")
    expect(notice).to_contain_text("The changes you last sent from this page were not saved.")
    # Where the eye starts: above the form's first field (not after the grid's last cell).
    assert notice.bounding_box()["y"] < page.get_by_label("Subject").bounding_box()["y"]
    assert page.get_by_label("Headline").input_value() == "Still thinking it over?"
    notice.get_by_role("button", name="Put them back").click()
    assert page.get_by_label("Headline").input_value() == "Typed before the session ended"
    _frames_show(page, "Typed before the session ended")  # the preview follows them
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved as version 1.").wait_for()
    expect(page.locator(".kept-edits")).to_have_count(0)
    page.reload()
    expect(page.locator(".kept-edits")).to_have_count(0)  # saved: nothing more to offer


def _save_after_the_session_ended(page, portal: str, headline: str) -> None:
    page.goto(f"{portal}/email/1")
    page.get_by_label("Headline").fill(headline)
    page.context.clear_cookies()
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Your session had ended, so nothing was saved").wait_for()


def _log_in_here(page, email: str) -> None:
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def test_kept_edits_are_offered_only_to_their_user_and_forgotten_at_log_out(portal, page):
    """A shared computer: the next person to sign in in the tab is not offered the edits."""
    owner = db.session.scalar(select(User).where(User.email == "owner@bean.example"))
    make_member(owner.merchant_id, "member@bean.example")
    _sign_in(page, portal)
    _save_after_the_session_ended(page, portal, "The owner's words")
    _log_in_here(page, "member@bean.example")  # another user, in the same tab
    page.wait_for_url(f"{portal}/email/1")
    expect(page.locator(".kept-edits")).to_have_count(0)
    kept = "Object.keys(sessionStorage).filter(k => k.startsWith('portal:sent:')).length"
    assert page.evaluate(kept) == 0  # not even left in the tab's storage
    page.get_by_role("button", name="Log out").click()
    _log_in_here(page, "owner@bean.example")
    page.get_by_role("heading", name="Bean Shop").wait_for()
    page.goto(f"{portal}/email/1")
    expect(page.locator(".kept-edits")).to_have_count(0)  # forgotten when the member left
    _save_after_the_session_ended(page, portal, "The owner's words")
    _log_in_here(page, "owner@bean.example")
    expect(page.locator(".kept-edits")).to_have_count(1)  # its own user is offered them
    page.get_by_role("button", name="Log out").click()  # ... and leaves them
    _sign_in(page, portal)
    page.goto(f"{portal}/email/1")
    expect(page.locator(".kept-edits")).to_have_count(0)
