"""Test helpers that act like a browser."""
from __future__ import annotations

import re

CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')


def csrf_token(client, page: str) -> str:
    """The CSRF token a browser would find on `page`."""
    html = client.get(page).get_data(as_text=True)
    match = CSRF_RE.search(html) or re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, f"no CSRF token on {page}"
    return match.group(1)


def post_form(client, path: str, data: dict, page: str | None = None, **kwargs):
    """POST `data` to `path` as a browser would: with the CSRF token from `page` (default: path)."""
    return client.post(path, data={**data, "csrf_token": csrf_token(client, page or path)}, **kwargs)
