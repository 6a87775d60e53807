"""A Checkout Session id is unique per merchant, no longer across the portal.

A direct-mode merchant signs its own webhook events, and a session id is no secret (it is in the
checkout page's address): with one key for all merchants, whoever stored an id first owned it,
so a merchant could take another's cart by naming it in an event of its own. The new key,
(merchant, session id), also serves every lookup by merchant, so the index on merchant_id alone
goes. Downgrading fails once two merchants hold the same session id (delete one copy first).

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("checkout_sessions") as batch:
        batch.drop_constraint("uq_checkout_sessions_session_id", type_="unique")
        batch.drop_index("ix_checkout_sessions_merchant_id")
        batch.create_unique_constraint(
            "uq_checkout_sessions_merchant_id_session_id", ["merchant_id", "session_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("checkout_sessions") as batch:
        batch.drop_constraint("uq_checkout_sessions_merchant_id_session_id", type_="unique")
        batch.create_index("ix_checkout_sessions_merchant_id", ["merchant_id"])
        batch.create_unique_constraint("uq_checkout_sessions_session_id", ["session_id"])
