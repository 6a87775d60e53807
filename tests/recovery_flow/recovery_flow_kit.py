"""What the end-to-end recovery tests share: the path of a link in a recovery email, and the
sweep's retries run in place."""

from __future__ import annotations

from urllib.parse import urlsplit

from portal.services import sending


def _path(url: str) -> str:
    return urlsplit(url).path


def retry_due(now) -> int:
    """What the sweep's retry jobs do together: each due deferred send tried once; how many."""
    return sum(sending.retry_one(send_id, now) for send_id in sending.deferred_due(now))
