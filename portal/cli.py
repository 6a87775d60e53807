"""Operator commands: `flask db`, `flask worker`, `flask merchants`, `flask demo`."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from stripe import APIConnectionError

from portal import db, jobs
from portal import worker as worker_module
from portal.extensions import QUEUE_NAMES, rq
from portal.models import ConnectMethod, User
from portal.services import accounts, addresses, connections, events, stripe_gateway
from portal.services import demo as demo_service
from portal.services import settings as settings_service


class OperatorGroup(AppGroup):
    """Commands whose database or Redis cannot be reached say so in one line, naming the
    variable, rather than with a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except OperationalError as error:
            first = str(error.orig or error).strip().splitlines()[0][:300]
            raise click.ClickException(f"The database (DATABASE_URL) cannot be used: {first}")
        except RedisError as error:
            raise click.ClickException(f"Redis (REDIS_URL) cannot be reached: {error}")


db_cli = OperatorGroup("db", help="Database schema (Alembic migrations in migrations/).")
merchants_cli = OperatorGroup("merchants", help="Create and manage merchants.")
events_cli = OperatorGroup("events", help="Stripe events: inspect failures and replay them.")


def register(app: Flask) -> None:
    for group in (db_cli, merchants_cli, events_cli):
        app.cli.add_command(group)
    for command in (worker, demo, sandbox):
        app.cli.add_command(command)


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def db_upgrade(revision: str) -> None:
    """Migrate the database to REVISION (default: the latest)."""
    db.upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"Database is at {revision}.")


# "-1" (one step back) reads as an option to click: take it as the revision it is.
@db_cli.command("downgrade", context_settings={"ignore_unknown_options": True})
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Migrate the database back to REVISION (e.g. -1, or base)."""
    db.downgrade(current_app.config["DATABASE_URL"], revision)
    steps = revision.removeprefix("-")
    if revision.startswith("-") and steps.isdigit():
        click.echo(f"Database went back {steps} migration{'' if steps == '1' else 's'}.")
    else:
        click.echo(f"Database is at {revision}.")


@events_cli.command("failed")
def events_failed() -> None:
    """List events that failed every attempt, with their last error."""
    rows = events.failed()
    for event in rows:
        click.echo(
            f"{event.event_id}  {event.type}  account={event.account_id or '-'}  "
            f"attempts={event.attempts}  received={event.received_at:%Y-%m-%d %H:%M:%S}Z\n"
            f"    {event.last_error}"
        )
    click.echo(f"{len(rows)} failed event(s).")


@events_cli.command("replay")
@click.argument("event_ids", nargs=-1)
@click.option("--all-failed", is_flag=True, help="Replay every failed event.")
def events_replay(event_ids: tuple[str, ...], all_failed: bool) -> None:
    """Queue events again by Stripe id (evt_...), or every failed one with --all-failed."""
    if bool(event_ids) == all_failed:
        raise click.UsageError("give event ids or --all-failed (not both)")
    count = events.replay(None if all_failed else list(event_ids))
    db.session.commit()
    _nudge_worker()
    click.echo(f"{count} event(s) queued again; a worker applies them.")


def _nudge_worker() -> None:
    try:
        jobs.request_drain(rq.connection, rq.queue("events"))
    except RedisError:
        click.echo("Redis is not reachable: the next worker sweep applies them.")


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Drain the queues, then exit.")
@click.option(
    "--queues",
    default=",".join(QUEUE_NAMES),
    show_default=True,
    help="Comma-separated queues, highest priority first.",
)
def worker(burst: bool, queues: str) -> None:
    """Process background jobs and scheduled work."""
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
    if not addresses.is_email(accounts.normalize_email(email)):
        hint = "Give a whole address, like owner@shop.example."
        raise click.BadParameter(hint, param_hint="--email")
    if problem := accounts.new_address_problem(email):
        raise click.BadParameter(problem, param_hint="--email")
    if problem := accounts.password_problem(password):
        raise click.BadParameter(problem, param_hint="--password")
    try:
        user = accounts.create_merchant(name, email, password)
    except accounts.AccountError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    return user


@merchants_cli.command("connect")
@click.argument("email")
@click.argument("account_id")
def merchants_connect(email: str, account_id: str) -> None:
    """Link the Stripe account ACCOUNT_ID, already connected to the platform, to EMAIL's merchant."""
    user = db.session.scalar(select(User).where(User.email == accounts.normalize_email(email)))
    if user is None:
        raise click.ClickException(f"No user with the email address {email}.")
    try:
        info = stripe_gateway.retrieve_account(account_id)
        live = stripe_gateway.is_live_key(current_app.config["STRIPE_SECRET_KEY"])
        # As Connect in the portal does: the account's name, colour and support address
        # become the email's defaults where the merchant has not set them.
        sending = settings_service.settings_for(user.merchant.id)
        connections.link_profile(
            user.merchant, info, sending, livemode=live, method=ConnectMethod.OAUTH
        )
    except (stripe_gateway.StripeError, stripe_gateway.GatewayError, connections.LinkError) as exc:
        raise click.ClickException(f"Cannot link {account_id}: {exc}") from exc
    db.session.commit()
    click.echo(f"Linked {account_id} ({info['name']}) to {user.merchant.name}.")


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=12111, show_default=True, type=int)
@with_appcontext
def sandbox(host: str, port: int) -> None:
    """Run the offline Stripe sandbox, sending Connect webhooks to this portal."""
    config = current_app.config
    state = Path(current_app.instance_path) / "sandbox-state.json"
    args = [
        sys.executable,
        "-m",
        "stripe_sandbox",
        "--host",
        host,
        "--port",
        str(port),
        "--state",
        str(state),
        "--connect-webhook",
        config["PUBLIC_URL"].rstrip("/") + "/webhooks/stripe/connect",
    ]
    if config["STRIPE_CONNECT_WEBHOOK_SECRET"]:
        args += ["--connect-webhook-secret", config["STRIPE_CONNECT_WEBHOOK_SECRET"]]
    state.parent.mkdir(parents=True, exist_ok=True)
    # A separate program, not an import: the portal never imports the sandbox package.
    os.execv(sys.executable, args)


@click.command("demo")
@click.option(
    "--wait",
    default=0,
    show_default=True,
    type=int,
    help="Seconds to wait for the Stripe sandbox to answer.",
)
@with_appcontext
def demo(wait: int) -> None:
    """Seed the demo merchant, connected to a sandbox account with products (idempotent)."""
    result = _retry_until(demo_service.seed, wait)
    db.session.commit()
    shop = current_app.config["STRIPE_API_BASE"].rstrip("/") + f"/shop/{result.account_id}"
    click.echo(
        f"Demo merchant: {demo_service.NAME} (Stripe account {result.account_id}).\n"
        f"  Log in as {demo_service.EMAIL} / {demo_service.PASSWORD}\n"
        f"  Abandon a cart in the sandbox shop: {shop}"
    )


def _retry_until(action, seconds: int):
    """Run `action`, retrying while Stripe cannot be reached, for up to `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except APIConnectionError as exc:
            db.session.rollback()
            if time.monotonic() >= deadline:
                raise click.ClickException(
                    f"Stripe at {current_app.config['STRIPE_API_BASE']} does not answer "
                    "(for the offline sandbox, start `flask sandbox` first)."
                ) from exc
            time.sleep(0.5)
        except stripe_gateway.GatewayError as exc:
            raise click.ClickException(str(exc)) from exc
        except stripe_gateway.StripeError as exc:
            raise click.ClickException(f"Stripe refused: {exc}") from exc
