"""Stripe's list envelope and cursor pagination (newest first)."""

from __future__ import annotations

from typing import Callable

from .errors import bad_param
from .params import Params


def page_args(params: Params) -> tuple[int, str | None, str | None]:
    """`limit` (1-100, default 10) and the two cursors; both cursors at once is a 400."""
    limit = params.str("limit")
    if limit is not None and (not limit.isdigit() or not 1 <= int(limit) <= 100):
        raise bad_param("Invalid limit: must be an integer between 1 and 100.", "limit")
    after, before = params.str("starting_after"), params.str("ending_before")
    if after and before:
        raise bad_param(
            "You may only specify one of these parameters: ending_before, starting_after.",
            "ending_before",
        )
    return int(limit or 10), after, before


def paginate(
    items: list,
    params: Params,
    url: str,
    render: Callable[[object], dict],
    id_of: Callable[[object], str],
) -> dict:
    """The list object for `items` (already newest first) after applying the cursors."""
    limit, after, before = page_args(params)
    ids = [id_of(item) for item in items]
    if after or before:
        cursor = after or before
        if cursor not in ids:
            name = "starting_after" if after else "ending_before"
            raise bad_param(f"Invalid {name}: no object with id '{cursor}' in this list.", name)
        position = ids.index(cursor)
    if after:
        window = items[position + 1 :]
        chosen, has_more = window[:limit], len(window) > limit
    elif before:
        window = items[:position]
        chosen, has_more = window[-limit:], len(window) > limit
    else:
        chosen, has_more = items[:limit], len(items) > limit
    return {
        "object": "list",
        "data": [render(item) for item in chosen],
        "has_more": has_more,
        "url": url,
    }
