"""The database: declarative Base, one engine per app, a scoped session, and Alembic helpers."""

from __future__ import annotations

import os
from collections.abc import Callable
from contextvars import ContextVar
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from sqlalchemy import DateTime, MetaData, create_engine, event, func, make_url, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker
from sqlalchemy.types import TypeDecorator

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Stable constraint names let Alembic alter them on SQLite (batch mode) and PostgreSQL alike.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite would otherwise drop the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware UTC datetime")
        return value.astimezone(timezone.utc) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value


# The largest id an `integer` column holds (PostgreSQL's int4, the type of every id here): a
# larger number names no row, and must be answered as such before it reaches a query, where
# PostgreSQL would refuse it as out of range.
MAX_ID = 2**31 - 1


def storable_text(value: str) -> bool:
    """Neither a NUL (PostgreSQL's text refuses it) nor a lone surrogate (no UTF-8 encodes it)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in value


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (every stored time is UTC)."""
    return datetime.now(timezone.utc)


T = TypeVar("T")

# One session per thread (request or job); removed at the end of each app context.
session = scoped_session(sessionmaker(expire_on_commit=False))


def racing_unique(write: Callable[[], T], tries: int = 10) -> T:
    """`write()` in a savepoint, tried again when a unique key refuses it: another request
    (a double click, a second tab) took the same key between this one's read and its write;
    read again, it sees that row. The last refusal is raised."""
    for attempt in range(tries):
        try:
            with session.begin_nested():
                return write()
        except IntegrityError:
            if attempt == tries - 1:
                raise
    raise AssertionError("unreachable")


def hold(*key, shared: bool = False) -> None:
    """Hold the advisory lock `key` (one bigint, or two integers) until the session's
    transaction ends, waiting for its holder; `shared` holders wait only for an exclusive one.
    On PostgreSQL only: SQLite takes one writer at a time anyway."""
    if session.get_bind().dialect.name == "postgresql":
        lock = func.pg_advisory_xact_lock_shared if shared else func.pg_advisory_xact_lock
        session.execute(select(lock(*key)))


def bound_engine() -> Engine:
    """The engine the session is bound to, without creating a session (no app context needed)."""
    return session.session_factory.kw["bind"]


CONNECT_TIMEOUT_SECONDS = 5  # unless DATABASE_URL says ?connect_timeout=...


def make_engine(url: str) -> Engine:
    """An engine that is safe after fork and enforces foreign keys on SQLite too.

    No pre-ping: it would cost every request a round trip. After a database restart a stale
    connection fails once (503, and the pool is invalidated), then everything reconnects."""
    is_sqlite = url.startswith("sqlite")
    parsed = make_url(url)
    connect_args = {}
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        # A database host that accepts and never answers would hold each request (and
        # /healthz) for libpq's own wait, over two minutes: give up sooner and answer 503.
        connect_args["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
    engine = create_engine(url, pool_recycle=3600, connect_args=connect_args)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "connect", _postgres_session)
    if is_sqlite:
        event.listen(engine, "connect", _sqlite_pragmas)
        # pysqlite opens transactions only before writes, so a SAVEPOINT after a SELECT would
        # start (and its release commit) the transaction: let SQLAlchemy say BEGIN itself.
        event.listen(engine, "begin", _sqlite_begin)
    # A forked worker must not share its parent's sockets: drop (without closing) inherited ones.
    os.register_at_fork(after_in_child=lambda: engine.dispose(close=False))
    return engine


# SQLite fails a transaction at once (busy_timeout cannot help) when it read, another
# connection then committed, and it tries to write. Work that means to write (a form, a
# webhook, a job) therefore takes the write lock at BEGIN and waits its turn; a page that only
# reads keeps a plain BEGIN and never blocks the writers (WAL).
write_intent: ContextVar[bool] = ContextVar("write_intent", default=False)
READING_METHODS = frozenset(("GET", "HEAD", "OPTIONS"))


def _sqlite_begin(conn) -> None:
    if conn.get_execution_options().get("isolation_level") != "AUTOCOMMIT":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write_intent.get() else "BEGIN")


# A transaction left open this long is a process that died with its socket still held (a
# forked child keeps it): the server ends it and frees its locks. Nothing the portal does waits
# this long inside a transaction (no Stripe or SMTP call is made in one for long; an upload is
# written a megabyte at a time).
IDLE_IN_TRANSACTION = "10min"


def _postgres_session(dbapi_connection, _record) -> None:
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # a SET outside any transaction lasts the session
    with dbapi_connection.cursor() as cursor:
        cursor.execute(f"SET idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION}'")
    dbapi_connection.autocommit = autocommit


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # no implicit BEGIN from the driver (see above)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")  # readers do not block the web while a job writes
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def init_app(app) -> None:
    """Bind the session to this app's engine; connects lazily, on first use."""
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    session.configure(bind=engine)
    app.teardown_appcontext(lambda _exc: session.remove())
    if engine.dialect.name == "sqlite":
        app.before_request(_note_write_intent)
        app.teardown_request(_forget_write_intent)


def writes_on_get(view):
    """Mark a view that writes though it is asked with GET (a link followed, Stripe's redirect
    back from Connect): on SQLite it takes the write lock at BEGIN, as a form does, so a
    webhook committing meanwhile makes it wait rather than fail with the busy page."""
    view.writes_on_get = True
    return view


def _note_write_intent() -> None:
    from flask import current_app, g, request

    view = current_app.view_functions.get(request.endpoint)
    writes = request.method not in READING_METHODS or getattr(view, "writes_on_get", False)
    g.write_intent = write_intent.set(writes)


def _forget_write_intent(_exc) -> None:
    from flask import g

    if (token := g.pop("write_intent", None)) is not None:
        write_intent.reset(token)


def alembic_config(url: str):
    """Alembic's Config for `migrations/`, pointed at `url`."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig(str(MIGRATIONS_DIR / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["database_url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at `url` to `revision`, creating a SQLite file's folder if needed."""
    from alembic import command

    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str) -> None:
    """Take the database at `url` back to `revision` (e.g. -1, or base)."""
    from alembic import command

    command.downgrade(alembic_config(url), revision)
