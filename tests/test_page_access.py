"""Pages as a screen reader and a phone meet them: a refused domain field names its error."""

from __future__ import annotations

import re

import pytest

from helpers import post_form


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
