"""The applying of a batch of subscription CSV rows on PostgreSQL, set-based: the rows are sent
with one COPY into a temporary table, then one statement moves every address whose held status
is older (or creates it) and adds a ledger entry for exactly those."""

from __future__ import annotations

from portal import db
from portal.db import utcnow
from portal.models import ConsentStatus

# An undated row finds its address already of its status, or unsubscribed by the customer.
HELD_ALREADY = """
    SELECT FROM contacts h
    WHERE h.merchant_id = %(merchant_id)s AND h.email = b.email
        AND (h.status = b.status OR h.source = ANY(%(their_own)s))
"""
# The batch holds one row per address (ON CONFLICT needs that), taken in address order: two
# imports at once lock the addresses they share in the same order, so neither waits on the other
# in a cycle (a deadlock). Only a row that outranks the status held (consent_csv_apply.outranks:
# newer, or as new and an unsubscribe) moves its address, and an undated one only to another
# status, never out of an unsubscribe the shopper made; the ledger gets an entry for exactly
# the rows that moved. As new means the same time, or the whole second of it (the download
# writes whole seconds: a row it wrote, changed to an unsubscribe, is not older).
# The ledger's key (merchant, email, "csv", "import:<id>:<line>") never repeats: a batch's
# lines move their addresses once, committed with the import's cursor. Were it to, the entry
# is kept once rather than failing the import for good: ON CONFLICT DO NOTHING.
# It answers how many addresses moved, and how many undated rows had nothing to change.
APPLY_SQL = f"""
WITH moved AS (
    INSERT INTO contacts AS c (merchant_id, email, status, updated_at, source)
    SELECT %(merchant_id)s, email, status, to_timestamp(at), %(source)s FROM csv_batch b
    WHERE b.dated OR NOT EXISTS ({HELD_ALREADY})
    ORDER BY email COLLATE "C"
    ON CONFLICT (merchant_id, email) DO UPDATE
        SET status = excluded.status, updated_at = excluded.updated_at, source = excluded.source
        WHERE excluded.updated_at > c.updated_at OR (
            excluded.updated_at IN (c.updated_at, to_timestamp(floor(extract(epoch FROM c.updated_at))))
            AND excluded.status = %(unsubscribed)s AND c.status <> %(unsubscribed)s
        )
    RETURNING c.email
), logged AS (
    INSERT INTO consent_changes
        (merchant_id, email, status, source, source_ref, occurred_at, recorded_at)
    SELECT %(merchant_id)s, b.email, b.status, %(source)s, %(ref)s || b.line, to_timestamp(b.at),
        %(now)s
    FROM csv_batch b JOIN moved USING (email)
    ON CONFLICT DO NOTHING
)
SELECT (SELECT count(*) FROM moved),
    (SELECT count(*) FROM csv_batch b WHERE NOT b.dated AND EXISTS ({HELD_ALREADY}))
"""
# A row as a line of COPY's text format: (line, email, status, Unix seconds, dated), the seconds
# as repr() writes a float: the shortest text PostgreSQL reads back as the same double, which
# to_timestamp() rounds to the microsecond the row said; dated as True or False.
COPY_LINE = "%d\t%s\t%s\t%r\t%s\n"


def apply_rows(
    merchant_id: int, ref_prefix: str, source: str, their_own, rows: list
) -> tuple[int, int]:
    """consent_csv_apply.apply_rows on PostgreSQL (rows are consent_csv.Row, dated, one per
    address; `their_own`: the sources of a shopper's own unsubscribe): how many addresses
    moved, and how many undated rows had nothing to change. The caller commits."""
    # Addresses were validated: no tab, newline or backslash, so COPY's text format needs no
    # escaping, and one write of the whole batch is far cheaper than a row at a time.
    connection = db.session.connection().connection.driver_connection
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TEMPORARY TABLE csv_batch (line integer, email text, status text, "
            "at double precision, dated boolean) ON COMMIT DROP"
        )
        with cursor.copy("COPY csv_batch FROM STDIN") as copy:
            copy.write("".join(map(COPY_LINE.__mod__, rows)))
        cursor.execute("ANALYZE csv_batch")  # else the join below may nest loops
        cursor.execute(
            APPLY_SQL,
            {
                "merchant_id": merchant_id,
                "source": source,
                "ref": ref_prefix,
                "now": utcnow(),
                "unsubscribed": ConsentStatus.UNSUBSCRIBED.value,
                "their_own": [str(s) for s in their_own],
            },
        )
        moved, unchanged = cursor.fetchone()
        cursor.execute("DROP TABLE csv_batch")  # the next batch may share this transaction
    return moved, unchanged
