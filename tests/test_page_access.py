"""Pages as a screen reader and a phone meet them: a refused domain field names its error, an
older email version opens from its whole row, and without script the placeholders are text to
type rather than buttons that do nothing."""

from __future__ import annotations

import re

import pytest

from helpers import post_form
from editor_kit import TEXT_FIELDS, VALID


def _control(html: str, name: str) -> str:
    """The opening tag of the form control `name`."""
    match = re.search(rf'<input[^>]*\bid="{name}"[^>]*>', html)
    assert match, f"no control {name}"
    return match.group()


@pytest.mark.parametrize(
    "domain, local_part, refused, kept",
    [("shop.c", "hello", "domain", "local_part"), ("shop.example", "a b", "local_part", "domain")],
)
def test_a_refused_domain_field_is_described_by_its_error_first(
    owner, client, domain, local_part, refused, kept
):
    response = post_form(client, "/domain", {"domain": domain, "local_part": local_part})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    control = _control(html, refused)
    assert f'aria-describedby="{refused}-error {refused}-hint"' in control
    assert 'aria-invalid="true"' in control
    [error] = re.findall(rf'<div class="errors" id="{refused}-error">(.*?)</div>', html, re.S)
    assert re.search(r'<p class="error">[^<]+</p>', error)
    # The field that was accepted is still described by its hint alone.
    assert f'aria-describedby="{kept}-hint"' in _control(html, kept)
    assert f'id="{kept}-error"' not in html


def test_an_older_version_opens_from_anywhere_in_its_row(owner, client):
    post_form(client, "/email/1", VALID)
    post_form(client, "/email/1", {**VALID, "headline": "Come back"})
    html = client.get("/email/1").get_data(as_text=True)
    rows = re.findall(r"<tr[^>]*>.*?</tr>", html.split('id="versions"')[1], re.S)
    linked = [row for row in rows if 'class="row-link"' in row]
    assert len(linked) == 2 and all(row.startswith('<tr class="linked">') for row in linked)
    assert 'href="/email/1?version=1" aria-label="Open version 1"' in linked[1]

    # The version shown above is not a link: its row is not one either.
    html = client.get("/email/1?version=1").get_data(as_text=True)
    rows = re.findall(r"<tr[^>]*>.*?</tr>", html.split('id="versions"')[1], re.S)
    [shown] = [row for row in rows if 'aria-current="true"' in row]
    assert shown.startswith("<tr>") and "row-link" not in shown


def test_without_script_placeholders_are_text_to_type_not_buttons(owner, client):
    html = client.get("/email/1").get_data(as_text=True)
    typed = re.findall(r'<code class="placeholder-text no-js-only">\{cart_total\}</code>', html)
    assert len(typed) == len(TEXT_FIELDS)
    buttons = re.findall(r'<button type="button" class="([^"]*)" data-insert=', html)
    assert buttons and all("js-only" in classes.split() for classes in buttons)
