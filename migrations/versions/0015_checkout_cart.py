"""A checkout keeps its cart as Stripe listed it at the last look before an email.

The send-time check already reads the line items from Stripe; keeping them lets the cart's page
show what the shopper left, and what the email showed, without asking Stripe again.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("checkout_sessions", sa.Column("cart", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("checkout_sessions") as batch:
        batch.drop_column("cart")
