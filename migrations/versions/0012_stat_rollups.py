"""Counts per merchant and quarter hour for the dashboard and the payments totals. On
PostgreSQL, triggers on recovery_cases and email_sends append each change of a counted fact to
stat_deltas, and existing rows are counted into stat_buckets (see portal/models/stats.py).

Revision ID: 0012
Revises: 0011
"""

from alembic import op
import sqlalchemy as sa
import portal.db  # noqa: F401  (column types of the portal, when a revision uses them)


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _counted_columns(table: str) -> list:
    """What both tables hold after their key: the quarter hour, the currency and the counts."""
    big = {"revenue", "paid_amount"}
    return [
        sa.Column("bucket", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        *(
            sa.Column(name, sa.BigInteger() if name in big else sa.Integer(), nullable=False)
            for name in (
                "expired eligible emailed clicked recovered held_out held_out_bought "
                "emailed_group emailed_group_bought revenue paid paid_amount mail_sent "
                "mail_clicked mail_bounced"
            ).split()
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f(f"fk_{table}_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
    ]


def upgrade() -> None:
    op.create_table(
        "stat_buckets",
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        *_counted_columns("stat_buckets"),
        sa.PrimaryKeyConstraint("merchant_id", "bucket", "currency", name=op.f("pk_stat_buckets")),
    )
    op.create_table(
        "stat_deltas",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        *_counted_columns("stat_deltas"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stat_deltas")),
    )
    with op.batch_alter_table("stat_deltas", schema=None) as batch_op:
        batch_op.create_index(
            "ix_stat_deltas_merchant_bucket", ["merchant_id", "bucket"], unique=False
        )

    if op.get_bind().dialect.name == "postgresql":
        for statement in FUNCTIONS + TRIGGERS + BACKFILL:
            op.execute(sa.text(statement))


COUNTS = (
    "expired, eligible, emailed, clicked, recovered, held_out, held_out_bought, emailed_group, "
    "emailed_group_bought, revenue, paid, paid_amount, mail_sent, mail_clicked, mail_bounced"
)
SUMS = ", ".join(f"sum({c.strip()})" for c in COUNTS.split(","))
# What one live-mode row counts, with `sign` +1 (its new state) or -1 (its old state, undone): a case counts
# towards the carts of its expiry's quarter hour and, once paid, the payments of its payment's.
CASE_PARTS = f"""
CREATE FUNCTION stat_case_parts(
    sign int, merchant int, live bool, expired_at timestamptz, holdout bool,
    emailed_at timestamptz, clicked_at timestamptz, purchased_at timestamptz,
    recovered_at timestamptz, amount bigint, money varchar)
RETURNS TABLE (merchant_id int, bucket timestamptz, currency varchar, {COUNTS.replace(",", " bigint,")} bigint)
LANGUAGE sql IMMUTABLE AS $$
    SELECT merchant, date_bin('15 minutes', expired_at, timestamptz '2000-01-01 00:00+00'),
        CASE WHEN recovered_at IS NULL THEN '' ELSE coalesce(money, '') END,
        sign, sign * (holdout IS NOT NULL)::int, sign * (emailed_at IS NOT NULL)::int,
        sign * (clicked_at IS NOT NULL)::int, sign * (recovered_at IS NOT NULL)::int,
        sign * (holdout IS TRUE)::int, sign * (holdout IS TRUE AND purchased_at IS NOT NULL)::int,
        sign * (holdout IS FALSE)::int,
        sign * (holdout IS FALSE AND purchased_at IS NOT NULL)::int,
        CASE WHEN recovered_at IS NULL THEN 0 ELSE sign * coalesce(amount, 0) END,
        0, 0, 0, 0, 0
    WHERE live AND expired_at IS NOT NULL
    UNION ALL
    SELECT merchant, date_bin('15 minutes', recovered_at, timestamptz '2000-01-01 00:00+00'),
        coalesce(money, ''), 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, sign, sign * coalesce(amount, 0),
        0, 0, 0
    WHERE live AND recovered_at IS NOT NULL
$$"""
# An email counts towards the emails claimed in its claim's quarter hour.
SEND_PARTS = f"""
CREATE FUNCTION stat_send_parts(
    sign int, merchant int, live bool, created_at timestamptz, status varchar,
    clicked_at timestamptz)
RETURNS TABLE (merchant_id int, bucket timestamptz, currency varchar, {COUNTS.replace(",", " bigint,")} bigint)
LANGUAGE sql IMMUTABLE AS $$
    SELECT merchant, date_bin('15 minutes', created_at, timestamptz '2000-01-01 00:00+00'), '',
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, sign * (status = 'sent')::int,
        sign * (clicked_at IS NOT NULL)::int, sign * (status = 'bounced')::int
    WHERE live AND created_at IS NOT NULL
$$"""
CASE_ARGS = (
    "{r}.merchant_id, {r}.livemode, {r}.expired_at, {r}.holdout, {r}.emailed_at, {r}.clicked_at, "
    "{r}.purchased_at, {r}.recovered_at, {r}.recovered_amount, {r}.recovered_currency"
)
# An email's mode is its case's (a test-mode cart's copy to the team stays out of the figures).
SEND_ARGS = (
    "{r}.merchant_id, (SELECT livemode FROM recovery_cases WHERE id = {r}.case_id), "
    "{r}.created_at, {r}.status, {r}.clicked_at"
)
NONZERO = " OR ".join(f"sum({c.strip()}) <> 0" for c in COUNTS.split(","))


def _trigger_function(name: str, parts: str, args: str) -> str:
    """A row trigger appending what the change of one row makes (new state minus old: OLD is
    NULL on INSERT, and its parts are then none), one row per quarter hour and currency it
    touches, nothing when no count changes."""
    return f"""
CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO stat_deltas (merchant_id, bucket, currency, {COUNTS})
    SELECT p.merchant_id, p.bucket, p.currency, {SUMS}
    FROM (
        SELECT * FROM {parts}(1, {args.format(r="NEW")})
        UNION ALL
        SELECT * FROM {parts}(-1, {args.format(r="OLD")})
    ) p
    GROUP BY p.merchant_id, p.bucket, p.currency
    HAVING {NONZERO};
    RETURN NULL;
END $$"""


FUNCTIONS = (
    CASE_PARTS,
    SEND_PARTS,
    _trigger_function("stat_case_change", "stat_case_parts", CASE_ARGS),
    _trigger_function("stat_send_change", "stat_send_parts", SEND_ARGS),
)
TRIGGERS = (
    """CREATE TRIGGER stat_cases AFTER INSERT OR UPDATE OF merchant_id, expired_at, holdout,
    emailed_at, clicked_at, purchased_at, recovered_at, recovered_amount, recovered_currency
    ON recovery_cases FOR EACH ROW EXECUTE FUNCTION stat_case_change()""",
    """CREATE TRIGGER stat_sends AFTER INSERT OR UPDATE OF merchant_id, created_at, status,
    clicked_at ON email_sends FOR EACH ROW EXECUTE FUNCTION stat_send_change()""",
)
BACKFILL = (
    f"""INSERT INTO stat_buckets (merchant_id, bucket, currency, {COUNTS})
    SELECT p.merchant_id, p.bucket, p.currency, {SUMS} FROM (
        SELECT p.* FROM recovery_cases c, stat_case_parts(1, {CASE_ARGS.format(r="c")}) p
        UNION ALL
        SELECT p.* FROM email_sends e, stat_send_parts(1, {SEND_ARGS.format(r="e")}) p
    ) p GROUP BY p.merchant_id, p.bucket, p.currency""",
)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in (
            "DROP TRIGGER stat_sends ON email_sends",
            "DROP TRIGGER stat_cases ON recovery_cases",
            "DROP FUNCTION stat_send_change",
            "DROP FUNCTION stat_case_change",
            "DROP FUNCTION stat_send_parts",
            "DROP FUNCTION stat_case_parts",
        ):
            op.execute(sa.text(statement))
    with op.batch_alter_table("stat_deltas", schema=None) as batch_op:
        batch_op.drop_index("ix_stat_deltas_merchant_bucket")

    op.drop_table("stat_deltas")
    op.drop_table("stat_buckets")
