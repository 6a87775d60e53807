"""Sending domains: a merchant's own From domain, its DKIM key (sealed) and the last DNS check.

Revision ID: 0009
Revises: 0008
"""

from alembic import op
import sqlalchemy as sa
import portal.db


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sending_domains",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("domain", sa.String(length=253), nullable=False),
        sa.Column("local_part", sa.String(length=64), nullable=False),
        sa.Column("selector", sa.String(length=63), nullable=False),
        sa.Column("private_key_sealed", sa.Text(), nullable=False),
        sa.Column("public_key", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("checked_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("verified_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failing_since", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("owner_notified_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_sending_domains_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sending_domains")),
        sa.UniqueConstraint("merchant_id", name=op.f("uq_sending_domains_merchant_id")),
    )


def downgrade() -> None:
    op.drop_table("sending_domains")
