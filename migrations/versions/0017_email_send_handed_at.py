"""A send records when it was handed to the mail server, so that a claim whose worker died
before that moment (nothing went out) is sent again rather than counted as maybe delivered.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("email_sends", sa.Column("handed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("email_sends") as batch:
        batch.drop_column("handed_at")
