"""The email editor: versions, refusals beside the fields, escaping of everything typed, the
preview with and without htmx, test emails through the real queue, and who may do what."""

from __future__ import annotations

import html
import re
from dataclasses import asdict
from html.parser import HTMLParser

import pytest
from rq import Queue
from sqlalchemy import func, select

from factories import PASSWORD, make_member, make_owner
from helpers import post_form
from portal import jobs
from portal.extensions import connect_redis, rq
from portal.mail.content import DEFAULT_CONTENT
from portal.models import EmailVersion, OutboxMessage, TestSend, ThrottleHit
from portal.services import onboarding, settings, test_sends

TEXT_FIELDS = ("subject", "preheader", "headline", "body", "button_label", "footer")
VALID = {
    **asdict(DEFAULT_CONTENT),
    "subject": "Your cart at {merchant_name} misses you",
    "logo_url": "",
    "brand_color": "#0f7b4b",
}
HTMX = {"HX-Request": "true"}
# Accepted as typed: nothing in them is code, so they must come out as the same characters.
SHOWN_AS_TYPED = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
# Refused: a single-braced name that is no placeholder (Jinja or attribute syntax included).
REFUSED = ("{% print 1 %}", "{merchant_name.__class__}")


@pytest.fixture
def owner(client, login):
    user = make_owner("Acme Tea", "owner@example.com")
    login(client, "owner@example.com", PASSWORD)
    return user


def versions(db, merchant_id: int) -> list[EmailVersion]:
    db.expire_all()
    return list(
        db.scalars(
            select(EmailVersion)
            .where(EmailVersion.merchant_id == merchant_id)
            .order_by(EmailVersion.number)
        )
    )


def sent_tests(db, merchant_id: int) -> list[TestSend]:
    db.expire_all()
    return list(db.scalars(select(TestSend).where(TestSend.merchant_id == merchant_id)))


def error_beside(page: str, field_id: str) -> str:
    """The first error message inside the field block that holds the control `field_id`."""
    blocks = re.split(r'<div class="field', page)
    block = next(b for b in blocks if f'id="{field_id}"' in b)
    match = re.search(r'<p class="error"[^>]*>([^<]+)</p>', block)
    assert match, f"no error beside {field_id}"
    return html.unescape(match.group(1))


def frames(page: str) -> dict[str, str]:
    """Each preview iframe's email HTML (its srcdoc, unescaped), by its class."""
    found = re.findall(r'<iframe class="(frame-\w+)"[^>]*sandbox=""[^>]*srcdoc="([^"]*)"', page)
    return {name: html.unescape(doc) for name, doc in found}


def text_part(page: str) -> str:
    match = re.search(r'<pre class="plain-text">(.*?)</pre>', page, re.S)
    assert match, "no plain-text part"
    return html.unescape(match.group(1))


def test_owner_and_member_see_the_editor_of_the_first_email(client, app, owner, login):
    assert client.get("/email").headers["Location"].endswith("/email/1")
    page = client.get("/email/1").get_data(as_text=True)
    assert set(frames(page)) == {"frame-desktop", "frame-mobile"}
    assert 'value="You left something in your cart at {merchant_name}"' in page
    assert 'maxlength="150"' in page and ">Save</button>" in page
    assert "Reset to the default email" in page and "owner@example.com" in page
    assert page.count('data-insert="{cart_total}"') == len(TEXT_FIELDS)
    assert 'hx-post="/email/1/preview"' in page and "htmx-2.0.11.min.js" in page

    make_member(owner.merchant_id, "member@example.com")
    other = app.test_client()
    login(other, "member@example.com", PASSWORD)
    page = other.get("/email/1").get_data(as_text=True)
    assert "Only the account’s owner can save changes" in page
    assert ">Save</button>" not in page and "Reset to the default email" not in page
    assert len(frames(page)) == 2 and "Send test email" in page


def test_each_save_is_a_new_version(client, db, owner):
    assert not _email_step_done(db, owner)
    response = post_form(client, "/email/1", VALID, follow_redirects=True)
    assert "Saved as version 1." in response.get_data(as_text=True)
    response = post_form(client, "/email/1", {**VALID, "headline": "Come back"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/email/1")
    stored = versions(db, owner.merchant_id)
    assert [(v.number, v.headline, v.is_reset) for v in stored] == [
        (1, DEFAULT_CONTENT.headline, False),
        (2, "Come back", False),
    ]
    assert stored[0].brand_color == "#0f7b4b" and stored[1].created_by_id == owner.id
    page = client.get("/email/1").get_data(as_text=True)
    assert 'value="Come back"' in page and "In use" in page and "owner@example.com" in page
    assert _email_step_done(db, owner)
    # Saving what is already in use adds no copy to the history (a colour's case aside).
    again = {**VALID, "headline": "Come back", "brand_color": "#0F7B4B"}
    response = post_form(client, "/email/1", again, follow_redirects=True)
    assert "Nothing changed: version 2 is still the one in use." in response.get_data(as_text=True)
    assert len(versions(db, owner.merchant_id)) == 2


def _email_step_done(db, owner) -> bool:
    db.expire_all()
    merchant = db.get(type(owner.merchant), owner.merchant_id)
    return next(s for s in onboarding.checklist(merchant) if s.key == "email").done


def test_an_unknown_placeholder_is_refused_by_name_and_nothing_saved(client, db, owner):
    response = post_form(client, "/email/1", {**VALID, "subject": "Hi {first_name}!"})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Nothing was saved" in page
    assert error_beside(page, "subject").startswith("Unknown placeholder {first_name}: use one of")
    assert versions(db, owner.merchant_id) == []


@pytest.mark.parametrize(
    "field, typed, says",
    [
        ("body", "Hi {{ customer_name }},", "Write {customer_name} in single braces:"),
        ("subject", "{{Merchant Name}} misses you", "Write {merchant_name} in single braces:"),
        (
            "headline",
            "Hi { customer_name }",
            "Unknown placeholder { customer_name }: did you mean",
        ),
    ],
)
def test_a_placeholder_written_as_other_tools_write_it_is_refused_with_the_right_form(
    client, db, owner, field, typed, says
):
    # "{{ name }}" is an escaped brace pair here: saved, the shopper would read "{ name }".
    response = post_form(client, "/email/1", {**VALID, field: typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and "Nothing was saved" in page
    assert error_beside(page, field).startswith(says)
    assert versions(db, owner.merchant_id) == []


def test_a_promotion_code_in_an_email_without_one_is_saved_with_a_warning(client, db, owner):
    with_code = {**VALID, "body": "Use {promotion_code} for 10% off."}
    warning = "Email 1 gets no promotion code, so {promotion_code} stays empty in it"
    preview = post_form(client, "/email/1/preview", with_code, page="/email/1")
    assert warning in html.unescape(preview.get_data(as_text=True))
    saved = post_form(client, "/email/1", with_code, follow_redirects=True)
    page = html.unescape(saved.get_data(as_text=True))
    assert "Saved as version 1." in page and warning in page
    assert len(versions(db, owner.merchant_id)) == 1
    plain = post_form(client, "/email/1", {**VALID, "headline": "Hi"}, follow_redirects=True)
    assert "stays empty" not in plain.get_data(as_text=True)


def test_a_field_too_long_is_refused_and_the_browser_is_told_the_limit(client, db, owner):
    response = post_form(client, "/email/1", {**VALID, "headline": "x" * 151})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert error_beside(page, "headline") == "Use at most 150 characters (this has 151)."
    assert versions(db, owner.merchant_id) == []


@pytest.mark.parametrize(
    ("field", "text", "says"),
    [
        ("subject", "Hi\u2028there", "Keep this to one line."),
        ("subject", "Hi\x0bthere", "Keep this to one line."),
        ("subject", "Hi\x00there", "Remove the invisible control character"),
        ("body", "Your cart\x07 waits", "Remove the invisible control character"),
    ],
)
def test_a_control_character_is_refused_beside_its_field(client, db, owner, field, text, says):
    response = post_form(client, "/email/1", {**VALID, field: text})
    assert response.status_code == 400
    assert error_beside(response.get_data(as_text=True), field).startswith(says)
    assert versions(db, owner.merchant_id) == []


def test_a_bad_colour_and_a_javascript_logo_are_refused(client, db, owner):
    data = {**VALID, "brand_color": "red;x", "logo_url": "javascript:alert(1)"}
    response = post_form(client, "/email/1", data)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "six hex digits" in error_beside(page, "brand_color")
    assert "https://" in error_beside(page, "logo_url")
    assert versions(db, owner.merchant_id) == [] and not frames(page)  # problems, no preview


@pytest.mark.parametrize(
    "logo", ["https://example.com:99999/x.png", "https://user:pass@example.com/x.png"]
)
def test_a_logo_address_with_a_port_past_65535_or_a_password_is_refused(client, db, owner, logo):
    response = post_form(client, "/email/1", {**VALID, "logo_url": logo})
    assert response.status_code == 400
    assert "https://" in error_beside(response.get_data(as_text=True), "logo_url")


@pytest.mark.parametrize("payload", [*SHOWN_AS_TYPED, "{{ 7*7 }}"])
def test_markup_and_template_code_come_out_escaped_everywhere(client, db, owner, payload):
    typed = {name: f"A{payload}Z" for name in TEXT_FIELDS}
    shown = "A{ 7*7 }Z" if payload == "{{ 7*7 }}" else f"A{payload}Z"  # {{ is a literal {
    assert post_form(client, "/email/1", {**VALID, **typed}).status_code == 302
    page = client.get("/email/1").get_data(as_text=True)
    fragment = post_form(
        client, "/email/1/preview", {**VALID, **typed}, page="/email/1", headers=HTMX
    ).get_data(as_text=True)
    editor = Parsed(page)
    assert editor.values["subject"] == typed["subject"] == editor.values["body"]
    for seen in (editor, Parsed(fragment)):
        assert (
            seen.scripts <= {"htmx-2.0.11.min.js", "editor.js", "forms.js"} and not seen.handlers
        )
        assert "A49Z" not in seen.source
        assert len(seen.frames) == 2 and shown in seen.text_part
        for email in seen.frames:
            assert not email.scripts and not email.handlers and shown in email.text


class Parsed(HTMLParser):
    """A page as a browser would take it: its scripts, its on* attributes, the values of its
    fields, the text, and (recursively) the documents of its iframes' srcdoc."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source, self.scripts, self.handlers = source, set(), []
        self.values, self.frames, self._in, self._text = {}, [], None, []
        self.feed(source)
        self.close()
        self.text = "".join(self._text)
        self.text_part = self.values.get("plain-text", "")

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.handlers += [name for name in attrs if name.startswith("on")]
        if tag == "script":
            self.scripts.add((attrs.get("src") or "inline").rsplit("/", 1)[-1])
        if tag == "iframe":
            self.frames.append(Parsed(attrs.get("srcdoc") or ""))
        if tag == "input" and "id" in attrs:
            self.values[attrs["id"]] = attrs.get("value") or ""
        if tag in ("textarea", "pre"):
            self._in = attrs.get("id") or attrs.get("class")
            self.values[self._in] = ""

    def handle_endtag(self, tag):
        if tag == "textarea":  # a browser drops the newline that opens a textarea
            self.values[self._in] = re.sub(r"^\r?\n", "", self.values[self._in])
        if tag in ("textarea", "pre"):
            self._in = None

    def handle_data(self, data):
        self._text.append(data)
        if self._in:
            self.values[self._in] += data


@pytest.mark.parametrize("payload", REFUSED)
def test_template_and_attribute_syntax_are_refused_and_shown_escaped(client, db, owner, payload):
    typed = {name: f"A{payload}Z" for name in TEXT_FIELDS}
    response = post_form(client, "/email/1", {**VALID, **typed})
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and versions(db, owner.merchant_id) == []
    assert error_beside(page, "body").startswith(f"Unknown placeholder {payload}:")
    assert "<class" not in page and "&lt;class" not in page and not frames(page)
    fragment = post_form(
        client, "/email/1/preview", typed, page="/email/1", headers=HTMX
    ).get_data(as_text=True)
    assert f"Unknown placeholder {html.escape(payload)}" in fragment and "<iframe" not in fragment


def test_reset_saves_the_default_as_a_new_version(client, db, owner):
    post_form(client, "/email/1", {**VALID, "headline": "Mine"})
    response = post_form(client, "/email/1/reset", {}, page="/email/1", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Back to the default email, saved as version 2." in page
    assert f'value="{DEFAULT_CONTENT.headline}"' in page and "reset to default" in page
    latest = versions(db, owner.merchant_id)[-1]
    assert latest.is_reset and latest.headline == DEFAULT_CONTENT.headline


def test_a_member_may_not_save_or_reset(client, app, db, owner, login):
    make_member(owner.merchant_id, "member@example.com")
    member = app.test_client()
    login(member, "member@example.com", PASSWORD)
    assert post_form(member, "/email/1", VALID).status_code == 403
    assert post_form(member, "/email/1/reset", {}, page="/email/1").status_code == 403
    assert versions(db, owner.merchant_id) == []


def test_steps_beyond_the_sequence_are_not_found(client, db, owner):
    for path in ("/email/0", "/email/2", "/email/4", "/email/tests?step=2"):
        assert client.get(path).status_code == 404, path
    assert post_form(client, "/email/2/preview", VALID, page="/email/1").status_code == 404
    assert post_form(client, "/email/2/test", VALID, page="/email/1").status_code == 404
    sending = settings.settings_for(owner.merchant_id)
    sending.steps = [
        {"delay_minutes": 0, "promotion": False},
        {"delay_minutes": 1440, "promotion": True},
    ]
    db.commit()
    page = client.get("/email/2").get_data(as_text=True)
    assert "Email 2" in page and "Follow-up 1" not in page and "Your cart is still here" in page
    assert "THANKS-7K2Q" in text_part(page)  # the sample promotion code of a step with one
    off = client.get("/email/3")
    assert off.status_code == 404
    words = html.unescape(off.get_data(as_text=True))
    assert "Email 3 is not in your sequence" in words and "Your sequence has 2 emails." in words
    assert "is not in your sequence" not in client.get("/email/4").get_data(as_text=True)


def test_the_preview_route_renders_the_posted_values_without_saving(client, db, owner):
    data = {**VALID, "headline": "Fresh from the form"}
    full = post_form(client, "/email/1/preview", data, page="/email/1")
    page = full.get_data(as_text=True)
    assert full.status_code == 200 and "<html" in page  # no htmx: the whole page
    assert set(frames(page)) == {"frame-desktop", "frame-mobile"}
    assert all("Fresh from the form" in doc for doc in frames(page).values())
    assert "Fresh from the form" in text_part(page) and 'value="Fresh from the form"' in page
    assert 'class="inbox-subject">Your cart at Acme Tea misses you<' in page
    # The sample shopper is named as Stripe names real ones: the name on the card, in full.
    assert "Hi Alex Morgan," in text_part(page) and "shopper named Alex Morgan" in page
    fragment = post_form(client, "/email/1/preview", data, page="/email/1", headers=HTMX)
    part = fragment.get_data(as_text=True)
    assert "<html" not in part and set(frames(part)) == {"frame-desktop", "frame-mobile"}
    assert "Fresh from the form" in text_part(part)
    assert versions(db, owner.merchant_id) == []


def test_a_test_email_is_queued_for_the_user_and_sent_by_the_job(
    client, app, db, owner, redis_conn
):
    data = {**VALID, "headline": "Unsaved headline"}
    response = post_form(client, "/email/1/test", data, page="/email/1")
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and "Test email queued for owner@example.com." in page
    assert 'value="Unsaved headline"' in page  # the edits are kept on the page
    [test] = sent_tests(db, owner.merchant_id)
    assert test.to_address == "owner@example.com" and test.status == "queued"
    assert test.design["headline"] == "Unsaved headline" and versions(db, owner.merchant_id) == []
    [job] = Queue("mail", connection=redis_conn).jobs
    assert job.func_name == "portal.jobs.send_test_email" and job.args == (test.id,)
    listing = client.get("/email/tests?step=1").get_data(as_text=True)
    assert "Queued" in listing and 'hx-trigger="every 2s"' in listing and "Refresh" in listing

    with app.app_context():
        assert jobs.send_test_email(test.id) == "sent"
    listing = client.get("/email/tests?step=1").get_data(as_text=True)
    assert "Sent" in listing and "No mail server is set up, so it waits in the" in listing
    assert "every 2s" not in listing  # nothing queued: the polling stops
    sent = db.scalars(select(OutboxMessage)).one()
    assert sent.to_address == "owner@example.com" and sent.subject.startswith("[Test] ")


def test_the_sixth_test_email_in_the_window_is_refused(client, db, owner, redis_conn):
    for _ in range(test_sends.LIMIT):
        assert post_form(client, "/email/1/test", VALID, page="/email/1").status_code == 200
    response = post_form(client, "/email/1/test", VALID, page="/email/1")
    assert response.status_code == 429
    assert "can send 5 test emails every 10 minutes" in response.get_data(as_text=True)
    fragment = post_form(client, "/email/1/test", VALID, page="/email/1", headers=HTMX)
    assert fragment.status_code == 429 and "<html" not in fragment.get_data(as_text=True)
    assert len(sent_tests(db, owner.merchant_id)) == test_sends.LIMIT


def test_a_test_email_with_problems_is_not_sent(client, db, owner, redis_conn):
    response = post_form(client, "/email/1/test", {**VALID, "subject": ""}, page="/email/1")
    assert response.status_code == 400
    assert error_beside(response.get_data(as_text=True), "subject") == "Enter the subject."
    assert (
        sent_tests(db, owner.merchant_id) == [] and Queue("mail", connection=redis_conn).count == 0
    )


def test_when_redis_refuses_the_test_email_fails_with_a_reason(client, db, owner, monkeypatch):
    monkeypatch.setattr(rq, "connection", connect_redis("redis://127.0.0.1:1/0"))
    response = post_form(client, "/email/1/test", VALID, page="/email/1", headers=HTMX)
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "could not be queued just now" in page
    assert "the portal could not queue it just then" in page and "127.0.0.1" not in page
    assert "Server’s answer" not in page  # the portal's own words, not a mail server's
    [test] = sent_tests(db, owner.merchant_id)
    assert test.status == "failed"
    # Nothing was tried: it does not count against the limit.
    assert test_sends.refusal(owner.merchant) is None
    assert db.scalar(select(func.count()).select_from(ThrottleHit)) == 0


def test_a_member_sends_a_test_to_their_own_address(client, app, db, owner, login, redis_conn):
    make_member(owner.merchant_id, "member@example.com")
    member = app.test_client()
    login(member, "member@example.com", PASSWORD)
    response = post_form(member, "/email/1/test", VALID, page="/email/1", headers=HTMX)
    assert response.status_code == 200 and "member@example.com" in response.get_data(as_text=True)
    assert [t.to_address for t in sent_tests(db, owner.merchant_id)] == ["member@example.com"]


def test_another_merchant_sees_and_changes_none_of_it(client, app, db, owner, login, redis_conn):
    post_form(client, "/email/1", {**VALID, "headline": "Acme own words"})
    post_form(client, "/email/1/test", VALID, page="/email/1")
    rival = make_owner("Rival", "rival@example.com")
    other = app.test_client()
    login(other, "rival@example.com", PASSWORD)
    page = other.get("/email/1").get_data(as_text=True)
    assert "Acme own words" not in page and "owner@example.com" not in page
    assert "Not saved yet" in page and "No test email sent yet." in page
    assert "owner@example.com" not in other.get("/email/tests?step=1").get_data(as_text=True)
    post_form(other, "/email/1", {**VALID, "headline": "Rival words"})
    post_form(other, "/email/1/reset", {}, page="/email/1")
    assert [v.number for v in versions(db, rival.merchant_id)] == [1, 2]
    assert [v.headline for v in versions(db, owner.merchant_id)] == ["Acme own words"]
    assert len(sent_tests(db, owner.merchant_id)) == 1


def test_the_test_emails_answer_is_beside_its_button(client, db, owner, redis_conn):
    """On a phone the list of tests is far below the button: the answer is put beside it, out
    of band with htmx, and on the page itself without JavaScript."""
    fragment = post_form(client, "/email/1/test", VALID, page="/email/1", headers=HTMX)
    text = fragment.get_data(as_text=True)
    notice = re.search(r'<p id="test-notice" hx-swap-oob="true"[^>]*>(.*?)</p>', text, re.S)
    assert notice and "Test email queued for owner@example.com." in notice.group(1)
    page = post_form(client, "/email/1/test", VALID, page="/email/1").get_data(as_text=True)
    button = page.index("Send test email</button>")
    beside = page.index('<p id="test-notice"', button)
    assert page.index("Test email queued for owner@example.com.", beside) < page.index(
        'id="tests"'
    )
    assert page.count('id="test-notice"') == 1


def test_a_save_over_a_version_saved_meanwhile_is_refused_and_keeps_the_text(client, db, owner):
    assert 'name="base" type="hidden" value="0"' in client.get("/email/1").get_data(as_text=True)
    mine = {**VALID, "base": "0", "headline": "My headline"}
    theirs = {**VALID, "base": "0", "subject": "Their subject"}
    assert post_form(client, "/email/1", theirs).status_code == 302  # another tab saves first
    refused = post_form(client, "/email/1", mine)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 409 and "version 1 was saved while you were editing" in page
    assert 'value="My headline"' in page and 'name="base" type="hidden" value="1"' in page
    assert [v.subject for v in versions(db, owner.merchant_id)] == ["Their subject"]
    again = post_form(client, "/email/1", {**mine, "base": "1"})  # saved knowingly
    assert again.status_code == 302
    assert [v.headline for v in versions(db, owner.merchant_id)][-1] == "My headline"
    twice = post_form(client, "/email/1", {**mine, "base": "1"}, follow_redirects=True)
    assert "Nothing changed: version 2 is still the one in use" in twice.get_data(as_text=True)


def test_the_address_a_no_js_test_or_preview_leaves_opens_the_editor(client, owner):
    for action in ("test", "preview"):
        response = client.get(f"/email/1/{action}")
        assert response.status_code == 303 and response.location.endswith("/email/1")
        assert client.get(f"/email/9/{action}").status_code == 404  # no such email: as /email/9
