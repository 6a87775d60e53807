"""Dashboard, payments and the decision trace: per-case summary columns (expiry, holdout group,
first email, first click, purchase) filled in for existing cases, the trace of decisions and
re-checks, dry runs, the payment intent of sessions, and the indexes the pages read from.

Revision ID: 0011
Revises: 0010
"""

from alembic import op
import sqlalchemy as sa
import portal.db  # noqa: F401  (column types of the portal, when a revision uses them)


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dry_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("since", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("until", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("results", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_dry_runs_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_dry_runs_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dry_runs")),
    )
    with op.batch_alter_table("dry_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_dry_runs_merchant_id"), ["merchant_id"], unique=False)

    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["recovery_cases.id"],
            name=op.f("fk_case_events_case_id_recovery_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_case_events_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
    )
    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.create_index("ix_case_events_case", ["case_id", "id"], unique=False)

    with op.batch_alter_table("checkout_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payment_intent", sa.String(length=255), nullable=True))

    with op.batch_alter_table("consent_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_consent_changes_unsubscribes",
            ["merchant_id", "occurred_at"],
            unique=False,
            postgresql_where=sa.text("source IN ('unsubscribe_link', 'one_click')"),
            sqlite_where=sa.text("source IN ('unsubscribe_link', 'one_click')"),
        )

    with op.batch_alter_table("email_sends", schema=None) as batch_op:
        batch_op.create_index(
            "ix_email_sends_merchant_created", ["merchant_id", "created_at"], unique=False
        )

    with op.batch_alter_table("recovery_cases", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("livemode", sa.Boolean(), server_default=sa.true(), nullable=False)
        )
        batch_op.add_column(
            sa.Column("expired_at", portal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("holdout", sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column("emailed_at", portal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("clicked_at", portal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("purchased_at", portal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.create_index(
            "ix_recovery_cases_merchant_expired",
            ["merchant_id", "expired_at", "id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_recovery_cases_merchant_recovered",
            ["merchant_id", "recovered_at", "id"],
            unique=False,
            postgresql_where=sa.text("recovered_at IS NOT NULL"),
            sqlite_where=sa.text("recovered_at IS NOT NULL"),
        )

    _backfill()


# Existing cases get the summary columns from the rows they summarise.
BACKFILL = (
    """UPDATE recovery_cases SET livemode = (SELECT s.livemode FROM checkout_sessions s
    WHERE s.id = recovery_cases.checkout_session_id)""",
    """UPDATE recovery_cases SET expired_at = (SELECT COALESCE(s.expired_at, s.state_at)
    FROM checkout_sessions s WHERE s.id = recovery_cases.checkout_session_id)""",
    """UPDATE recovery_cases SET emailed_at = (SELECT MIN(e.sent_at) FROM email_sends e
    WHERE e.case_id = recovery_cases.id AND e.status = 'sent')""",
    """UPDATE recovery_cases SET clicked_at = (SELECT MIN(e.clicked_at) FROM email_sends e
    WHERE e.case_id = recovery_cases.id)""",
    # A later purchase by the same address or customer (without the live code's 30-day bound,
    # which these portable statements cannot write), or the recovery itself.
    """UPDATE recovery_cases SET purchased_at = (
    SELECT MIN(COALESCE(p.completed_at, p.state_at))
    FROM checkout_sessions o, checkout_sessions p
    WHERE o.id = recovery_cases.checkout_session_id AND p.merchant_id = o.merchant_id
    AND p.id <> o.id AND (p.email = o.email OR p.customer = o.customer)
    AND p.status = 'complete' AND COALESCE(p.async_result, '') <> 'failed'
    AND (p.payment_status IN ('paid', 'no_payment_required') OR p.async_result = 'succeeded')
    AND COALESCE(p.completed_at, p.state_at) >= o.created_at)""",
    """UPDATE recovery_cases SET purchased_at = recovered_at WHERE recovered_at IS NOT NULL
    AND (purchased_at IS NULL OR purchased_at > recovered_at)""",
    # The holdout group where the case shows it; a case that a later rule stopped after it was
    # scheduled cannot be told from one stopped before: left out of both groups.
    """UPDATE recovery_cases SET holdout = CASE WHEN reason = 'holdout' THEN TRUE
    WHEN emailed_at IS NOT NULL OR status = 'scheduled'
    OR reason IN ('frequency_cap', 'recovery_url_expired', 'sequence_finished') THEN FALSE END""",
)


def _backfill() -> None:
    for statement in BACKFILL:
        op.execute(sa.text(statement))


def downgrade() -> None:
    with op.batch_alter_table("recovery_cases", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_recovery_cases_merchant_recovered",
            postgresql_where=sa.text("recovered_at IS NOT NULL"),
            sqlite_where=sa.text("recovered_at IS NOT NULL"),
        )
        batch_op.drop_index(
            "ix_recovery_cases_merchant_expired",
        )
        batch_op.drop_column("purchased_at")
        batch_op.drop_column("clicked_at")
        batch_op.drop_column("emailed_at")
        batch_op.drop_column("holdout")
        batch_op.drop_column("expired_at")
        batch_op.drop_column("livemode")

    with op.batch_alter_table("email_sends", schema=None) as batch_op:
        batch_op.drop_index("ix_email_sends_merchant_created")

    with op.batch_alter_table("consent_changes", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_consent_changes_unsubscribes",
            postgresql_where=sa.text("source IN ('unsubscribe_link', 'one_click')"),
            sqlite_where=sa.text("source IN ('unsubscribe_link', 'one_click')"),
        )

    with op.batch_alter_table("checkout_sessions", schema=None) as batch_op:
        batch_op.drop_column("payment_intent")

    with op.batch_alter_table("case_events", schema=None) as batch_op:
        batch_op.drop_index("ix_case_events_case")

    op.drop_table("case_events")
    with op.batch_alter_table("dry_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_dry_runs_merchant_id"))

    op.drop_table("dry_runs")
