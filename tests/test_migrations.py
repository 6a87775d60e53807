"""Migrations: one head, upgrade from empty, downgrade and back, and agreement with the models."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
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
    # The operator's command, in a process of its own (an app made here would rebind the
    # suite's session to this database).
    back = _flask(empty_database, "db", "downgrade", "-1")  # "-1" is a revision, not an option
    assert back.stdout == "Database went back 1 migration.\n", back.stderr
    assert "throttle_hits" in inspect(engine).get_table_names()
    assert _flask(empty_database, "db", "downgrade", "base").stdout == "Database is at base.\n"
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    db.upgrade(empty_database)
    assert "users" in inspect(engine).get_table_names()
    engine.dispose()


def _flask(database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PORTAL_ENV": "development", "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "flask", "--app", "portal:create_app", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)


def test_the_app_loads_without_alembic(tmp_path):
    # Alembic (with Mako and Pygments) weighs about 11 MB: web processes, workers and the CSV
    # import never migrate, so only the migration commands load it.
    code = (
        "import sys; from portal import create_app; app = create_app(); "
        "app.test_cli_runner().invoke(args=['db', '--help']); print('alembic' in sys.modules)"
    )
    env = {**os.environ, "PORTAL_ENV": "development", "DATABASE_URL": f"sqlite:///{tmp_path}/x.db"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


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
