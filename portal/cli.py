"""Operator commands: `flask db`, `flask worker`, `flask merchants`, `flask demo`."""
from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from portal import db
from portal.extensions import QUEUE_NAMES, rq
from portal.services import accounts

db_cli = AppGroup("db", help="Database schema (Alembic migrations in migrations/).")
merchants_cli = AppGroup("merchants", help="Create and manage merchants.")


def register(app: Flask) -> None:
    for group in (db_cli, merchants_cli):
        app.cli.add_command(group)
    app.cli.add_command(worker)
    app.cli.add_command(demo)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the latest)."""
    db.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"Database is at {revision}.")


@db_cli.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database back to REVISION (e.g. -1, or base)."""
    from alembic import command

    command.downgrade(db.alembic_config(current_app.config["DATABASE_URL"]), revision)
    click.echo(f"Database is at {revision}.")


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Drain the queues, then exit.")
@click.option("--queues", default=",".join(QUEUE_NAMES), show_default=True,
              help="Comma-separated queues, highest priority first.")
def worker(burst: bool, queues: str) -> None:
    """Process background jobs and scheduled work."""
    from portal import worker as worker_module

    chosen = [rq.queue(name.strip()) for name in queues.split(",") if name.strip()]
    worker_module.run(current_app._get_current_object(), rq.connection, chosen, burst=burst)


@merchants_cli.command("create")
@click.option("--email", required=True)
@click.option("--password", required=True)
@click.option("--name", required=True, help="The business name.")
def merchants_create(email: str, password: str, name: str) -> None:
    """Create a merchant and its owner user."""
    user = _create_merchant(name, email, password)
    click.echo(f"Created merchant {user.merchant_id} ({name}) with owner {user.email}.")


def _create_merchant(name: str, email: str, password: str):
    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
    try:
        user = accounts.create_merchant(name, email, password)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    return user


DEMO_EMAIL, DEMO_PASSWORD, DEMO_NAME = "demo@example.com", "demo-password", "Demo Coffee Roasters"


@click.command("demo")
@with_appcontext
def demo() -> None:
    """Seed a demo merchant (idempotent) and print its login."""
    from sqlalchemy import select

    from portal.models import User

    if db.session.scalar(select(User).where(User.email == DEMO_EMAIL)) is None:
        _create_merchant(DEMO_NAME, DEMO_EMAIL, DEMO_PASSWORD)
    click.echo(f"Demo merchant: {DEMO_NAME}. Log in as {DEMO_EMAIL} / {DEMO_PASSWORD}")
