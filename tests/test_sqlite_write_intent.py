"""On SQLite (the embedded default), a request that writes takes the write lock at BEGIN and
waits its turn; one that only reads does not. A GET that writes (Stripe's redirect back from
Connect, a recovery link followed) is marked so: otherwise a webhook committing meanwhile fails
it at once with the busy page. Only SQLite has this: skipped on PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from portal import db as portal_db


def _begins(app, client, path: str) -> list[str]:
    began = []

    def note(_conn, _cursor, statement, *_args):
        if statement.startswith("BEGIN"):
            began.append(statement)

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", note)
    try:
        client.get(path)
    finally:
        event.remove(engine, "before_cursor_execute", note)
    return began


def test_a_get_that_writes_takes_the_lock_at_begin_and_a_page_that_reads_does_not(
    app, client, owner
):
    if app.extensions["db_engine"].dialect.name != "sqlite":
        pytest.skip("PostgreSQL's transactions wait for row locks without this")
    assert _begins(app, client, "/connect") == ["BEGIN"]
    assert set(_begins(app, client, "/connect/callback?state=x")) == {"BEGIN IMMEDIATE"}
    assert set(_begins(app, client, "/r/not-a-token")) <= {"BEGIN IMMEDIATE"}
    marked = [
        name for name, view in app.view_functions.items() if getattr(view, "writes_on_get", 0)
    ]
    assert sorted(marked) == ["connect.callback", "links.recover"]
    assert portal_db.write_intent.get() is False  # nothing is left set after the requests
