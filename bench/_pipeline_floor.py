"""The baseline for bench/pipeline.py: the rows a drain wrote, written again by PostgreSQL alone.

Not a benchmark itself (`make bench` skips the `_` files): pipeline.py uses it.
"""

from __future__ import annotations

import time

TABLES_SQL = "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"


def row_counts(database_url: str) -> dict[str, int]:
    """Every table's exact row count."""
    import psycopg

    with psycopg.connect(database_url) as conn:
        tables = [name for (name,) in conn.execute(TABLES_SQL)]
        return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


def floor_seconds(database_url: str, before: dict[str, int]) -> float:
    """How long PostgreSQL takes to write what the drain wrote, with no Python, RQ or rules:
    each table that gained rows copied into an empty twin (same columns, defaults and
    indexes; no foreign keys), and every event's row updated once, as the drain marks it."""
    import psycopg

    grown = [t for t, n in row_counts(database_url).items() if n > before.get(t, 0)]
    with psycopg.connect(database_url) as conn:
        for table in grown:
            conn.execute(f'CREATE TABLE "floor_{table}" (LIKE "{table}" INCLUDING ALL)')
        conn.commit()
        start = time.perf_counter()
        for table in grown:
            conn.execute(f'INSERT INTO "floor_{table}" SELECT * FROM "{table}"')
        conn.execute("UPDATE stripe_events SET attempts = attempts")
        conn.commit()
        return time.perf_counter() - start
