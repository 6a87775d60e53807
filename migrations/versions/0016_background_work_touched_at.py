"""Imports and dry runs record when they last moved, so that one whose worker died is started
again by the periodic sweep rather than left "running" until the job's timeout.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

TABLES = ("csv_imports", "dry_runs")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(table, sa.Column("touched_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("touched_at")
