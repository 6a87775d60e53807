"""Sending settings, email sends, the development outbox, suppression and shop details.

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa
import portal.db


revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=True),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("raw", sa.Text(), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_outbox_messages_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_outbox_messages_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "sending_settings",
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("quiet_start", sa.Integer(), nullable=True),
        sa.Column("quiet_end", sa.Integer(), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("frequency_cap_hours", sa.Integer(), nullable=False),
        sa.Column("holdout_percent", sa.Integer(), nullable=False),
        sa.Column("test_mode", sa.String(length=16), nullable=False),
        sa.Column("sender_name", sa.String(length=100), nullable=False),
        sa.Column("reply_to", sa.String(length=254), nullable=True),
        sa.Column("postal_address", sa.Text(), nullable=False),
        sa.Column("brand_color", sa.String(length=7), nullable=False),
        sa.Column("logo_url", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_sending_settings_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("merchant_id", name=op.f("pk_sending_settings")),
    )
    op.create_table(
        "email_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("clicked_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["recovery_cases.id"],
            name=op.f("fk_email_sends_case_id_recovery_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_email_sends_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_sends")),
        sa.UniqueConstraint("case_id", "step", name=op.f("uq_email_sends_case_id_step")),
    )
    with op.batch_alter_table("email_sends", schema=None) as batch_op:
        batch_op.create_index("ix_email_sends_due", ["status", "next_attempt_at"], unique=False)
        batch_op.create_index(
            "ix_email_sends_merchant_to", ["merchant_id", "to_address"], unique=False
        )

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("suppressed_at", portal.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("suppressed_reason", sa.String(length=200), nullable=True))

    with op.batch_alter_table("recovery_cases", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recovered_step", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("attempts", sa.Integer(), server_default="0", nullable=False)
        )

    with op.batch_alter_table("stripe_accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("shop_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("support_email", sa.String(length=254), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("stripe_accounts", schema=None) as batch_op:
        batch_op.drop_column("support_email")
        batch_op.drop_column("shop_url")

    with op.batch_alter_table("recovery_cases", schema=None) as batch_op:
        batch_op.drop_column("attempts")
        batch_op.drop_column("recovered_step")

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_column("suppressed_reason")
        batch_op.drop_column("suppressed_at")

    with op.batch_alter_table("email_sends", schema=None) as batch_op:
        batch_op.drop_index("ix_email_sends_merchant_to")
        batch_op.drop_index("ix_email_sends_due")

    op.drop_table("email_sends")
    op.drop_table("sending_settings")
    with op.batch_alter_table("outbox_messages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_messages_merchant_id"))

    op.drop_table("outbox_messages")
