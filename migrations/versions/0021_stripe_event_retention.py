"""Applied Stripe events are kept for a limited time (events.prune): an index on when each
arrived lets the sweep find the ones past it without reading the whole table.

Revision ID: 0021
Revises: 0020
"""

from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_stripe_events_received_at", "stripe_events", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_stripe_events_received_at", table_name="stripe_events")
