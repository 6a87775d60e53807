"""Subscriptions: CSV imports (the file in chunks, the job's cursor, rejected rows), erased
addresses (a keyed hash only), and an index for listing contacts by status in address order.

Revision ID: 0010
Revises: 0009
"""

from alembic import op
import sqlalchemy as sa
import portal.db


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "erased_addresses",
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=False),
        sa.Column("erased_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_erased_addresses_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("merchant_id", "email_hash", name=op.f("pk_erased_addresses")),
    )
    op.create_table(
        "csv_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("merchant_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows_read", sa.Integer(), nullable=False),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("skipped_older", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("next_offset", sa.BigInteger(), nullable=False),
        sa.Column("next_line", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", portal.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", portal.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["merchant_id"],
            ["merchants.id"],
            name=op.f("fk_csv_imports_merchant_id_merchants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_csv_imports_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csv_imports")),
    )
    with op.batch_alter_table("csv_imports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_csv_imports_merchant_id"), ["merchant_id"], unique=False
        )

    op.create_table(
        "csv_import_chunks",
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["csv_imports.id"],
            name=op.f("fk_csv_import_chunks_import_id_csv_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_id", "number", name=op.f("pk_csv_import_chunks")),
    )
    op.create_table(
        "csv_import_rejects",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["csv_imports.id"],
            name=op.f("fk_csv_import_rejects_import_id_csv_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_csv_import_rejects")),
        sa.UniqueConstraint(
            "import_id", "line", name=op.f("uq_csv_import_rejects_import_id_line")
        ),
    )
    with op.batch_alter_table("csv_import_rejects", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_csv_import_rejects_import_id"), ["import_id"], unique=False
        )

    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_contacts_merchant_status_email", ["merchant_id", "status", "email"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index("ix_contacts_merchant_status_email")

    with op.batch_alter_table("csv_import_rejects", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_csv_import_rejects_import_id"))

    op.drop_table("csv_import_rejects")
    op.drop_table("csv_import_chunks")
    with op.batch_alter_table("csv_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_csv_imports_merchant_id"))

    op.drop_table("csv_imports")
    op.drop_table("erased_addresses")
