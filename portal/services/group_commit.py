"""Group commit for webhook events: concurrent requests share one INSERT and one commit.

Whoever arrives while no write is under way becomes the writer: it takes every event waiting,
inserts them in one statement (ON CONFLICT DO NOTHING RETURNING), commits, and wakes the others.
Events that arrive meanwhile form the next batch. Nobody waits on a timer, and every caller
returns only once its own row is durable (or with the error that stopped the write).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from sqlalchemy import Table
from sqlalchemy.engine import Engine

MAX_BATCH = 200


@dataclass
class _Ticket:
    values: dict
    done: threading.Event = field(default_factory=threading.Event)
    is_new: bool = False
    error: BaseException | None = None


class GroupCommitter:
    """Inserts rows of `table`, unique on `key`, for many threads at once."""

    def __init__(self, engine: Engine, table: Table, key: str):
        self.engine, self.table, self.key = engine, table, key
        self.lock = threading.Lock()
        self.waiting: list[_Ticket] = []
        self.writing = False

    def insert(self, values: dict) -> bool:
        """Store the row unless its key exists; True when it is new. Durable on return."""
        ticket = _Ticket(values)
        with self.lock:
            self.waiting.append(ticket)
            lead = not self.writing
            self.writing = self.writing or lead
        if lead:
            self._write_until_idle()
        ticket.done.wait()
        if ticket.error is not None:
            raise ticket.error
        return ticket.is_new

    def _write_until_idle(self) -> None:
        while True:
            with self.lock:
                batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
                if not batch:
                    self.writing = False
                    return
            self._write(batch)

    def _write(self, batch: list[_Ticket]) -> None:
        try:
            inserted = self._insert(batch)
        except BaseException as exc:  # the callers see the database's own error (e.g. 503)
            for ticket in batch:
                ticket.error = exc
        else:
            seen = set()
            for ticket in batch:  # the same event twice in one batch: only the first is new
                key = ticket.values[self.key]
                ticket.is_new = key in inserted and key not in seen
                seen.add(key)
        for ticket in batch:
            ticket.done.set()

    def _insert(self, batch: list[_Ticket]) -> set:
        from portal.services.webhooks import insert_statement

        column = self.table.c[self.key]
        statement = insert_statement(self.engine.dialect.name, column)
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            rows = connection.execute(statement, [t.values for t in batch]).all()
        return {row[0] for row in rows}


_committers: dict[int, GroupCommitter] = {}
_registry_lock = threading.Lock()


def committer(engine: Engine, table: Table, key: str) -> GroupCommitter:
    """The process's committer for this engine (one per app)."""
    with _registry_lock:
        if id(engine) not in _committers:
            _committers[id(engine)] = GroupCommitter(engine, table, key)
        return _committers[id(engine)]
