"""Promotion codes: the coupon and daily cap, and the code minted for each send.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa
import portal.db  # noqa: F401  (column types of the portal, when a revision uses them)


revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("email_sends", schema=None) as batch_op:
        batch_op.add_column(sa.Column("promotion_code", sa.String(length=64), nullable=True))

    with op.batch_alter_table("sending_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("coupon_id", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("promotion_daily_cap", sa.Integer(), server_default="50", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("sending_settings", schema=None) as batch_op:
        batch_op.drop_column("promotion_daily_cap")
        batch_op.drop_column("coupon_id")

    with op.batch_alter_table("email_sends", schema=None) as batch_op:
        batch_op.drop_column("promotion_code")
