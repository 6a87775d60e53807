"""The merchant's list of addresses: pages in address order, searched by prefix and filtered by
status, and the count of each tab, all served by indexes whatever the list's size."""

from __future__ import annotations

import re
import sys
from typing import NamedTuple

from sqlalchemy import func, select, text

from portal import db
from portal.mail.mime import CONTROL
from portal.models import Contact, Merchant
from portal.services.subscriptions import STATUS, normalize

COUNT_CAP = 1000  # counting past this reads the whole index: the tabs say "1,000+" instead


class Page(NamedTuple):
    contacts: list[Contact]
    after: str | None  # the cursor of the next page (None: this is the last)
    before: str | None  # the cursor of the page before (None: this is the first)


def page(
    merchant: Merchant,
    status: str | None = None,
    query: str = "",
    after: str | None = None,
    limit: int = 50,
    before: str | None = None,
) -> Page:
    """One page of the merchant's contacts in address order: after the address `after`, or
    (given `before`) the page just before that address, with the cursors of the pages either
    side. Served by the (merchant_id, [status,] email) indexes at any size, either way: the
    search is a prefix written as a range, never a scan."""
    stmt = _matching(select(Contact), merchant, status, query)
    if before:  # read backwards from the cursor, then put the page in order
        stmt = stmt.where(Contact.email < before).order_by(Contact.email.desc())
        rows = list(db.session.scalars(stmt.limit(limit + 1)))
        shown = rows[:limit][::-1]
        earlier = shown[0].email if len(rows) > limit else None
        return Page(shown, shown[-1].email if shown else None, earlier)
    if after:
        stmt = stmt.where(Contact.email > after)
    rows = list(db.session.scalars(stmt.order_by(Contact.email).limit(limit + 1)))
    shown = rows[:limit]
    later = shown[-1].email if len(rows) > limit else None
    return Page(shown, later, shown[0].email if after and shown else None)


def _matching(stmt, merchant: Merchant, status: str | None, query: str):
    """`stmt` narrowed to the merchant's contacts of `status` (None: any) whose address starts
    with `query`, as the (merchant_id, [status,] email) indexes serve it."""
    stmt = stmt.where(Contact.merchant_id == merchant.id)
    if status:
        stmt = stmt.where(Contact.status == status)
    if prefix := CONTROL.sub("", normalize(query)):
        # The range uses the index; LIKE (escaped) keeps out anything the range lets in.
        escaped = re.sub(r"([\\%_])", r"\\\1", prefix)
        stmt = stmt.where(Contact.email >= prefix, Contact.email.like(escaped + "%", escape="\\"))
        if (end := _after_prefix(prefix)) is not None:
            stmt = stmt.where(Contact.email < end)
    return stmt


def _after_prefix(prefix: str) -> str | None:
    """The least string above every one that starts with `prefix` (its last character moved on
    by one, skipping the surrogates, which no text holds); None when there is none."""
    last = ord(prefix[-1]) + 1
    if last > sys.maxunicode:
        return None
    return prefix[:-1] + chr(0xE000 if 0xD800 <= last <= 0xDFFF else last)


def counts(merchant: Merchant, query: str = "") -> dict[str | None, str]:
    """How many contacts each tab holds (None: all) whose address starts with `query` (as the
    list below the tabs shows them), in words: exact up to COUNT_CAP (each tab
    counts at most COUNT_CAP + 1 index entries, so a page view stays cheap whatever the list's
    size); past it, without a search, "about N" from PostgreSQL's planner estimate (an import
    of many rows refreshes its statistics), else "1,000+". SQLite, the embedded default with
    no planner estimate, counts them all (a million addresses: 50 to 140 ms a tab here)."""
    found = {}
    for status in (None, *STATUS):
        stmt = _matching(select(Contact.id), merchant, status, query)
        capped = stmt.limit(COUNT_CAP + 1).subquery()
        held = db.session.scalar(select(func.count()).select_from(capped))
        if held <= COUNT_CAP or not _on_postgres():  # SQLite's lists are small: all counted
            found[status] = f"{_count(stmt) if held > COUNT_CAP else held:,}"
        else:  # a search's share of the planner's estimate would be a guess: no "about" for it
            found[status] = f"{COUNT_CAP:,}+" if query else _beyond_cap(stmt)
    return found


def _on_postgres() -> bool:
    return db.session.get_bind().dialect.name == "postgresql"


def _count(stmt) -> int:
    return db.session.scalar(select(func.count()).select_from(stmt.subquery()))


def _beyond_cap(stmt) -> str:
    """A count past COUNT_CAP on PostgreSQL in words: the planner's estimate rounded to two
    significant figures ("about 410,000") when it has one above the cap, else "1,000+"."""
    sql = stmt.compile(db.session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = db.session.scalar(text(f"EXPLAIN (FORMAT JSON) {sql}"))
    estimate = int(plan[0]["Plan"]["Plan Rows"])
    if estimate <= COUNT_CAP:
        return f"{COUNT_CAP:,}+"
    return f"about {round(estimate, 2 - len(str(estimate))):,}"
