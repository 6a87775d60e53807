"""Group commit for webhook events: concurrent requests share one INSERT and one commit.

Whoever arrives while no write is under way becomes the writer: it takes every event waiting,
inserts them in one statement (ON CONFLICT DO NOTHING RETURNING) and commits. Events that arrive
meanwhile form the next batch, written by the first of their callers, so that no caller writes
for others after its own row is stored. Nobody waits on a timer, and every caller returns only
once its own row is durable (or with the error that stopped the write). A row the database
refuses stops only its own caller's write: the rest of its batch is then written row by row.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError

MAX_BATCH = 200


def _held_lock():
    lock = threading.Lock()
    lock.acquire()
    return lock


@dataclass
class _Ticket:
    values: dict
    # Held until released once: when the row is written, or to make its caller the next
    # writer. A bare lock, because a threading.Event costs a Condition per request.
    wake: threading.Lock = field(default_factory=_held_lock)
    done: bool = False
    is_new: bool = False
    error: BaseException | None = None


class GroupCommitter:
    """Inserts rows of `table`, unique on `key`, for many threads at once."""

    def __init__(self, engine: Engine, table: Table, key: str):
        self.engine, self.table, self.key = engine, table, key
        self.lock = threading.Lock()
        self.waiting: list[_Ticket] = []
        self.writing = False
        self.connection, self.connection_pid = None, 0

    def insert(self, values: dict) -> bool:
        """Store the row unless its key exists; True when it is new. Durable on return."""
        ticket = _Ticket(values)
        with self.lock:
            self.waiting.append(ticket)
            leads, self.writing = not self.writing, True
        if not leads:
            ticket.wake.acquire()
        if not ticket.done:  # it leads: the batch it writes starts with its own row
            self._write_next_batch(ticket)
        if ticket.error is not None:
            raise ticket.error
        return ticket.is_new

    def _write_next_batch(self, writer: _Ticket) -> None:
        with self.lock:
            batch, self.waiting = self.waiting[:MAX_BATCH], self.waiting[MAX_BATCH:]
        self._write(batch)
        for ticket in batch:
            if ticket is not writer:
                ticket.wake.release()
        with self.lock:  # hand the pen to the oldest waiter, or put it down
            if self.waiting:
                self.waiting[0].wake.release()
            else:
                self.writing = False

    def _write(self, batch: list[_Ticket]) -> None:
        try:
            inserted = self._insert([t.values for t in batch])
        except BaseException as exc:  # the callers see the database's own error (e.g. 503)
            if len(batch) > 1 and _may_be_one_rows_fault(exc):
                self._write_one_by_one(batch)
            else:
                _fail(batch, exc)
        else:
            seen = set()
            for ticket in batch:  # the same event twice in one batch: only the first is new
                key = ticket.values[self.key]
                ticket.is_new = key in inserted and key not in seen
                seen.add(key)
        for ticket in batch:
            ticket.done = True

    def _write_one_by_one(self, batch: list[_Ticket]) -> None:
        """Each row in a statement of its own, so a row the database refuses fails only its own
        caller. Rare: the webhook's checks stop such rows first; the batch wrote nothing."""
        for position, ticket in enumerate(batch):
            try:
                ticket.is_new = bool(self._insert([ticket.values]))
            except BaseException as exc:
                if not _may_be_one_rows_fault(exc):  # no point asking a database that is away
                    _fail(batch[position:], exc)
                    return
                ticket.error = exc

    def _insert(self, rows: list[dict]) -> set:
        """The keys of `rows` that were inserted, committed."""
        if self.engine.dialect.name == "postgresql":
            return self._insert_with_driver(rows)
        statement = insert_statement(self.engine.dialect.name, self.table.c[self.key])
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            return {row[0] for row in connection.execute(statement, rows)}

    def _insert_with_driver(self, rows: list[dict]) -> set:
        """PostgreSQL, the production path: the statement goes straight to the driver, on the
        committer's own autocommit connection (one writer at a time needs one connection).
        Measured under load, SQLAlchemy's execution layer and pool cost more CPU than the INSERT
        itself. Driver errors are raised as SQLAlchemy's (OperationalError: 503)."""
        columns = tuple(rows[0])
        sql = _multirow_insert(self.table.name, columns, self.key, len(rows))
        params = [row[c] for row in rows for c in columns]
        dbapi = self.engine.dialect.loaded_dbapi
        try:
            found = self._connection().execute(sql, params).fetchall()
        except BaseException as exc:
            connection = self.connection
            self._drop_connection()  # whatever state it is in, the next batch starts afresh
            if isinstance(exc, dbapi.Error):
                if self.engine.dialect.is_disconnect(exc, connection, None):
                    # The server dropped connections (a restart, a kill): its pool holds more
                    # such. A fresh pool, so that neither the next batch nor a request draws
                    # one: one 503, not one per dead connection.
                    self.engine.dispose()
                raise DBAPIError.instance(sql, params, exc, dbapi.Error) from exc
            raise
        return {row[0] for row in found}

    def _connection(self):
        """The writer's driver connection, opened through the engine (same settings) and
        detached from its pool; a forked child opens its own."""
        if self.connection is None or self.connection_pid != os.getpid():
            import psycopg  # the PostgreSQL driver, only on this path

            pooled = self.engine.raw_connection()
            self.connection, self.connection_pid = pooled.driver_connection, os.getpid()
            pooled.detach()
            self.connection.autocommit = True
            # $n placeholders, passed as they are: the driver's %s parser caches only short
            # statements, and a batch's INSERT is long (measured: half the driver's CPU per row).
            self.connection.cursor_factory = psycopg.RawCursor
        return self.connection

    def _drop_connection(self) -> None:
        connection, self.connection = self.connection, None
        if connection is not None and self.connection_pid == os.getpid():
            try:
                connection.close()
            except Exception:  # noqa: BLE001  (it is being thrown away because it failed)
                pass


def _may_be_one_rows_fault(exc: BaseException) -> bool:
    """Whether one row may have caused `exc` (data the database or the driver refuses, or a
    bug): anything but the database being away (OperationalError, which every caller hears as
    503) or the process being stopped (not an Exception)."""
    return isinstance(exc, Exception) and not isinstance(exc, OperationalError)


def _fail(batch: list[_Ticket], exc: BaseException) -> None:
    for ticket in batch:
        ticket.error = exc


@lru_cache(maxsize=4)
def insert_statement(dialect_name: str, key):
    """INSERT ... ON CONFLICT (key) DO NOTHING RETURNING key, built once per dialect: with the
    values bound at execution it is compiled once too (the hot path of every webhook)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(key.table).on_conflict_do_nothing(index_elements=[key]).returning(key)


@lru_cache(maxsize=MAX_BATCH * 2)
def _multirow_insert(table: str, columns: tuple, key: str, count: int) -> str:
    """INSERT INTO table (columns) VALUES (...) x count ON CONFLICT (key) DO NOTHING RETURNING key,
    built from the model's own names (no user input reaches the SQL text)."""
    width = len(columns)
    rows = (
        "(" + ", ".join(f"${r * width + c}" for c in range(1, width + 1)) + ")"
        for r in range(count)
    )
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join(rows)} "
        f"ON CONFLICT ({key}) DO NOTHING RETURNING {key}"
    )


_committers: dict[int, GroupCommitter] = {}
_registry_lock = threading.Lock()


def committer(engine: Engine, table: Table, key: str) -> GroupCommitter:
    """The process's committer for this engine (one per app)."""
    with _registry_lock:
        if id(engine) not in _committers:
            _committers[id(engine)] = GroupCommitter(engine, table, key)
        return _committers[id(engine)]
