"""An import counts apart the rows without a date that had nothing to change (their address
already of their status, or unsubscribed by the customer): they were counted as older.

Revision ID: 0022
Revises: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("csv_imports") as batch:
        batch.add_column(sa.Column("unchanged", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("csv_imports") as batch:
        batch.drop_column("unchanged")
