"""Values read from a page's query string."""

from __future__ import annotations

from flask import request

from portal import db


def query_id(name: str) -> int | None:
    """A row id from the query string (a page's cursor), as web.IdConverter checks a path's: 1 to
    db.MAX_ID, None otherwise (a missing, malformed or out-of-range value starts at the top)."""
    text = request.args.get(name, "")
    # Digits alone, and few: int() would take "１", " 1" and "1_0", and spend time on a million.
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        return None
    return int(text) if 1 <= int(text) <= db.MAX_ID else None
