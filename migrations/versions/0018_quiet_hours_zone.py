"""Quiet hours may follow the shopper's clock: a checkout keeps its billing country, and the
sending settings say whose time zone the quiet hours are in.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("checkout_sessions", sa.Column("country", sa.String(2), nullable=True))
    op.add_column(
        "sending_settings",
        sa.Column("quiet_zone", sa.String(16), nullable=False, server_default="merchant"),
    )


def downgrade() -> None:
    with op.batch_alter_table("sending_settings") as batch:
        batch.drop_column("quiet_zone")
    with op.batch_alter_table("checkout_sessions") as batch:
        batch.drop_column("country")
