"""Migrations: one head, upgrade from empty, downgrade and back, and agreement with the models."""

from __future__ import annotations

import uuid

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

import portal.models  # noqa: F401
from portal import db


@pytest.fixture
def empty_database(database_url, tmp_path):
    """A brand-new empty database of the same kind as the suite's."""
    if not database_url.startswith("postgresql"):
        yield f"sqlite:///{tmp_path / 'empty.sqlite3'}"
        return
    name = f"portal_migrations_{uuid.uuid4().hex[:10]}"
    admin = create_engine(database_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield database_url.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


def test_one_head(database_url):
    heads = ScriptDirectory.from_config(db.alembic_config(database_url)).get_heads()
    assert len(heads) == 1, f"several Alembic heads: {heads}"


def test_upgrade_from_empty_then_down_and_up_again(empty_database):
    db.upgrade(empty_database)
    engine = create_engine(empty_database)
    assert {"merchants", "users", "throttle_hits"} <= set(inspect(engine).get_table_names())
    command.downgrade(db.alembic_config(empty_database), "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    db.upgrade(empty_database)
    assert "users" in inspect(engine).get_table_names()
    engine.dispose()


def test_models_and_migrations_agree(database_url):
    engine = create_engine(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, db.Base.metadata)
    engine.dispose()
    assert diff == [], f"models differ from migrations: {diff}"


def test_webhook_payloads_use_lz4_where_postgresql_has_it(database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL storage setting")
    engine = create_engine(database_url)
    with engine.connect() as conn:
        methods = conn.execute(
            text(  # the compression methods this server was built with
                "SELECT enumvals::text FROM pg_settings WHERE name = 'default_toast_compression'"
            )
        ).scalar()
        method = conn.execute(
            text(
                "SELECT attcompression FROM pg_attribute WHERE attrelid = 'stripe_events'::regclass "
                "AND attname = 'payload'"
            )
        ).scalar()
    engine.dispose()
    assert method == ("l" if "lz4" in methods else "")
