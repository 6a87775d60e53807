"""The Connect page says when Stripe's last event arrived and whether a direct-mode delivery
was refused since: a direct account keeps its last refusal, and events are found newest first
per merchant.

Revision ID: 0019
Revises: 0018
"""

import sqlalchemy as sa
from alembic import op

from portal.db import UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("stripe_accounts") as batch:
        batch.add_column(
            sa.Column("webhook_refused_at", UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("webhook_refused_reason", sa.String(200), nullable=True))
    with op.batch_alter_table("stripe_events") as batch:
        batch.drop_index("ix_stripe_events_merchant_id")
        batch.create_index("ix_stripe_events_merchant_latest", ["merchant_id", "id"])


def downgrade() -> None:
    with op.batch_alter_table("stripe_events") as batch:
        batch.drop_index("ix_stripe_events_merchant_latest")
        batch.create_index("ix_stripe_events_merchant_id", ["merchant_id"])
    with op.batch_alter_table("stripe_accounts") as batch:
        batch.drop_column("webhook_refused_reason")
        batch.drop_column("webhook_refused_at")
