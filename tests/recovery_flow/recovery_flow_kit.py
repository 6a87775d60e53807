"""The path of a link in a recovery email, shared by the end-to-end recovery tests."""

from __future__ import annotations

from urllib.parse import urlsplit


def _path(url: str) -> str:
    return urlsplit(url).path
