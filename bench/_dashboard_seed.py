"""Setup for bench/dashboard.py (not timed): two merchants, a year of checkout sessions, their
recovery cases, emails, recovering sessions and consent ledger, written set-based in SQL.

The merchants, their users (passwords hashed by the portal's own code), Stripe accounts,
sending settings and terms acceptances are made through the portal's services and models; the
bulk rows with `INSERT ... SELECT` over `generate_series` and `random()` (seeded: the same
sizes and seed give the same shapes). Not a benchmark itself (`make bench` skips `_` files).
"""

from __future__ import annotations

import time
from contextlib import contextmanager

import _common as common
from _dashboard_rows import STATEMENTS, statement_values

PASSWORD = "bench-password-123"
EMAILS = ("owner@dashboard-bench.example", "owner@small-shop.example")
SMALL = (2000, 100)  # the second merchant's sessions and recoveries
EXPIRED_SHARE = 0.70  # of all the merchant's sessions, recovering ones included
EMAILED_SHARE_OF_RECOVERED = 0.9  # the rest bought again on their own (holdout, skipped...)
# Email statuses by a uniform draw: sent mostly, some bounced, failed, deferred, unknown.
SENDING = {  # two emails, 1 h and 25 h after expiry; a 10 % holdout
    "steps": [
        {"delay_minutes": 60, "promotion": False},
        {"delay_minutes": 1500, "promotion": False},
    ],
    "holdout_percent": 10,
    "postal_address": "1 Bench Street, Springfield",
}


def prepare(env: dict, name: str, sessions: int, recoveries: int) -> float:
    """Create the database `name` afresh, migrate it and fill it: the measured merchant with
    `sessions` and `recoveries`, the small one; the seconds it took (not part of the figures)."""
    from portal import db

    began = time.perf_counter()
    common._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    common._admin(f'CREATE DATABASE "{name}"')
    db.upgrade(env["DATABASE_URL"])
    big, small = create_merchants(env)
    with bulk_load(env["DATABASE_URL"]):
        for merchant_id, tag, n, r in ((big, "a", sessions, recoveries), (small, "b", *SMALL)):
            counts = seed(env["DATABASE_URL"], merchant_id, tag, n, r)
            print(f"merchant {merchant_id}: {counts}", flush=True)
    count_again(env["DATABASE_URL"])
    vacuum_s = vacuum_analyze(env["DATABASE_URL"])
    seconds = time.perf_counter() - began
    print(f"seeded in {seconds:.1f} s (VACUUM ANALYZE {vacuum_s:.1f} s)", flush=True)
    return seconds


def targets(url: str, position: int) -> dict:
    """The measured merchant, its counts, and the case ids the pages need: the newest recovered
    case, the one at `position` (the cursor) and the one after it, in the payments list's
    order; the newest recovered case that was emailed twice."""
    import psycopg

    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        one = lambda sql, *p: conn.execute(sql, p).fetchone()[0]  # noqa: E731
        merchant = one("SELECT merchant_id FROM users WHERE email = %s", EMAILS[0])
        recovered = one(
            "SELECT count(*) FROM recovery_cases WHERE merchant_id = %s "
            "AND recovered_at IS NOT NULL",
            merchant,
        )
        at = max(1, min(position, recovered // 2))
        nth = (
            "SELECT id FROM recovery_cases WHERE merchant_id = %s AND recovered_at IS NOT NULL "
            "ORDER BY recovered_at DESC, id DESC OFFSET %s LIMIT 1"
        )
        emailed = "SELECT id FROM recovery_cases WHERE merchant_id = %s AND recovered_step = 1 "
        return {
            "merchant": merchant,
            "sessions": one(
                "SELECT count(*) FROM checkout_sessions WHERE merchant_id = %s", merchant
            ),
            "recoveries": recovered,
            "position": at,
            "newest": one(nth, merchant, 0),
            "deep": one(nth, merchant, at - 1),
            "after_deep": one(nth, merchant, at),
            "emailed": one(emailed + "ORDER BY recovered_at DESC LIMIT 1", merchant),
        }


def create_merchants(env: dict) -> list[int]:
    """The measured merchant and a small one, through the portal's own code; their ids."""
    from portal import db
    from portal.models import Merchant, SendingSettings, User
    from portal.services import accounts, connections, terms

    ids = []
    with common.make_app(env).app_context():
        for n, (name, email) in enumerate(zip(("Bench Shop", "Small Shop"), EMAILS)):
            owner: User = accounts.create_merchant(name, email, PASSWORD, "Bench Owner")
            merchant: Merchant = owner.merchant
            merchant.recovery_enabled = True
            account = f"acct_1DashBench{n:011d}"
            connections.link_account(merchant, account, livemode=True, method="oauth")
            db.session.add(SendingSettings(merchant_id=merchant.id, **SENDING, sender_name=name))
            terms.accept(merchant, owner, "127.0.0.1")
            ids.append(merchant.id)
        db.session.commit()
        db.session.remove()
    return ids


def seed(database_url: str, merchant_id: int, tag: str, sessions: int, recoveries: int) -> dict:
    """One merchant's rows: `sessions` checkout sessions over the last 365 days (recovering ones
    included), 70 % expired with a case each, `recoveries` of them recovered. Counts written."""
    import psycopg

    recoveries = min(recoveries, int(sessions * 0.2))
    originals = sessions - recoveries
    params = {
        "m": merchant_id,
        "tag": tag,
        "n": originals,
        "pexp": min(1.0, EXPIRED_SHARE * sessions / originals),
        "pool": max(1, int(originals * 0.6)),
        "r_emailed": round(recoveries * EMAILED_SHARE_OF_RECOVERED),
        "r_own": recoveries - round(recoveries * EMAILED_SHARE_OF_RECOVERED),
    }
    with psycopg.connect(database_url.replace("+psycopg", "")) as conn:
        conn.execute("SET synchronous_commit = off")
        # Rows are consistent by construction: no per-row foreign-key triggers while loading.
        conn.execute("SET session_replication_role = replica")
        conn.execute("SET work_mem = '256MB'")
        conn.execute("SELECT setseed(0.18)")
        for statement in STATEMENTS:
            conn.execute(statement.format(**statement_values()), params)
        counts = {
            table: conn.execute(
                f"SELECT count(*) FROM {table} WHERE merchant_id = %(m)s", params
            ).fetchone()[0]
            for table in ("checkout_sessions", "recovery_cases", "email_sends", "consent_changes")
        }
        for table in ("gen", "plan", "cp"):
            conn.execute(f"DROP TABLE {table}")
    return counts


LOADED = ("checkout_sessions", "recovery_cases", "email_sends", "consent_changes", "contacts")
_SECONDARY = """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid),
    c.conname, i.indrelid::regclass::text, pg_get_constraintdef(c.oid)
    FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid AND c.contype = 'u'
    WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary"""


@contextmanager
def bulk_load(database_url: str):
    """Drop the loaded tables' secondary indexes and unique constraints, let the caller load,
    then build them again exactly as they were (faster than maintaining them row by row)."""
    import psycopg

    url = database_url.replace("+psycopg", "")
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute(_SECONDARY, [list(LOADED)]).fetchall()
        for index, _, constraint, table, _ in found:
            conn.execute(
                f"ALTER TABLE {table} DROP CONSTRAINT {constraint}"
                if constraint
                else f"DROP INDEX {index}"
            )
    yield
    began = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET maintenance_work_mem = '512MB'")
        for _, indexdef, constraint, table, condef in found:
            conn.execute(
                f"ALTER TABLE {table} ADD CONSTRAINT {constraint} {condef}"
                if constraint
                else indexdef
            )
    print(f"{len(found)} indexes built again in {time.perf_counter() - began:.1f} s", flush=True)


def count_again(database_url: str) -> None:
    """The counts the dashboard reads (kept by triggers, which the load turned off), counted
    from the loaded rows by the portal's own rebuild."""
    import psycopg

    from portal.services import rollups

    began = time.perf_counter()
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        with conn.transaction():
            for statement in rollups.REBUILD:
                conn.execute(str(statement))
    print(f"counts per quarter hour rebuilt in {time.perf_counter() - began:.1f} s", flush=True)


def vacuum_analyze(database_url: str) -> float:
    import psycopg

    began = time.perf_counter()
    with psycopg.connect(database_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - began
