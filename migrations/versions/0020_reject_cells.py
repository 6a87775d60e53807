"""A rejected CSV row keeps its status and date cells beside its address cell, so that the
rejected rows download in Stripe's format, to be corrected and uploaded again.

Revision ID: 0020
Revises: 0019
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("csv_import_rejects") as batch:
        batch.add_column(
            sa.Column("status_cell", sa.String(100), nullable=False, server_default="")
        )
        batch.add_column(sa.Column("date_cell", sa.String(100), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("csv_import_rejects") as batch:
        batch.drop_column("date_cell")
        batch.drop_column("status_cell")
