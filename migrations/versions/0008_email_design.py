"""The email design: saved versions per step (a send records its version), test emails from the
editor, and the locale amounts and dates are written in (the checkout's, else the merchant's).

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa
import portal.db


revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "email_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("preheader", sa.Text(), nullable=False),
        sa.Column("headline", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("button_label", sa.Text(), nullable=False),
        sa.Column("footer", sa.Text(), nullable=False),
        sa.Column("logo_url", sa.String(length=500), nullable=True),
        sa.Column("brand_color", sa.String(length=7), nullable=False),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("is_reset", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_email_versions_created_by_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_email_versions_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_versions")),
        sa.UniqueConstraint(
            "merchant_id", "step", "number", name=op.f("uq_email_versions_merchant_id_step_number")
        ),
    )
    with op.batch_alter_table("email_versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_email_versions_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "test_sends",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("design", sa.JSON(), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("to_address", sa.String(length=254), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_test_sends_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_test_sends_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_test_sends")),
    )
    with op.batch_alter_table("test_sends", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_test_sends_merchant_id"), ["merchant_id"], unique=False
        )

    with op.batch_alter_table("checkout_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=16), nullable=True))

    with op.batch_alter_table("email_sends", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_version_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_email_sends_email_version_id_email_versions"),
            "email_versions",
            ["email_version_id"],
            ["id"],
            ondelete="SET NULL",
        )

    with op.batch_alter_table("sending_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("locale", sa.String(length=16), server_default="en_US", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("sending_settings", schema=None) as batch_op:
        batch_op.drop_column("locale")

    with op.batch_alter_table("email_sends", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_email_sends_email_version_id_email_versions"), type_="foreignkey"
        )
        batch_op.drop_column("email_version_id")

    with op.batch_alter_table("checkout_sessions", schema=None) as batch_op:
        batch_op.drop_column("locale")

    with op.batch_alter_table("test_sends", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_test_sends_merchant_id"))

    op.drop_table("test_sends")
    with op.batch_alter_table("email_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_versions_merchant_id"))

    op.drop_table("email_versions")
