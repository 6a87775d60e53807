"""The editor's preview, and everything typed shown escaped, never run."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest

from helpers import error_beside, post_form
from editor_kit import HTMX, TEXT_FIELDS, VALID, frames, text_part, versions


# Accepted as typed: nothing in them is code, so they must come out as the same characters.
SHOWN_AS_TYPED = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
# Refused: a single-braced name that is no placeholder (Jinja or attribute syntax included).
REFUSED = ("{% print 1 %}", "{merchant_name.__class__}")


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
            seen.scripts <= {"htmx-2.0.11.min.js", "editor.js", "forms.js", "fit-frame.js"}
            and not seen.handlers
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


def test_the_preview_route_renders_the_posted_values_without_saving(client, db, owner):
    data = {**VALID, "headline": "Fresh from the form"}
    full = post_form(client, "/email/1/preview", data, page="/email/1")
    page = full.get_data(as_text=True)
    assert full.status_code == 200 and "<html" in page  # no htmx: the whole page
    assert set(frames(page)) == {"frame-desktop", "frame-mobile"}
    assert all("Fresh from the form" in doc for doc in frames(page).values())
    # Pictures to look at: Tab does not walk through their links (17 stops before).
    assert len(re.findall(r'<iframe class="frame-\w+"[^>]* tabindex="-1"', page)) == 2
    assert "Fresh from the form" in text_part(page) and 'value="Fresh from the form"' in page
    assert 'class="inbox-subject">Your cart at Acme Tea misses you<' in page
    # The sample shopper is named as Stripe names real ones: the name on the card, in full.
    assert "Hi Alex Morgan," in text_part(page) and "shopper named Alex Morgan" in page
    fragment = post_form(client, "/email/1/preview", data, page="/email/1", headers=HTMX)
    part = fragment.get_data(as_text=True)
    assert "<html" not in part and set(frames(part)) == {"frame-desktop", "frame-mobile"}
    assert "Fresh from the form" in text_part(part)
    assert versions(db, owner.merchant_id) == []


def test_the_address_a_no_js_test_or_preview_leaves_opens_the_editor(client, owner):
    for action in ("test", "preview"):
        response = client.get(f"/email/1/{action}")
        assert response.status_code == 303 and response.location.endswith("/email/1")
        assert client.get(f"/email/9/{action}").status_code == 404  # no such email: as /email/9
