"""The records and timestamps tables."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "storage_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "records",
        sa.Column("parent_id", sa.Text(), primary_key=True),
        sa.Column("collection_id", sa.Text(), primary_key=True),
        sa.Column(
            "id",
            sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql"),
            primary_key=True,
        ),
        sa.Column(
            "data", sa.Text().with_variant(postgresql.JSONB(), "postgresql"), nullable=False
        ),
        sa.Column("last_modified", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False, server_default=sa.false()),
        if_not_exists=True,
    )
    op.create_index(
        "idx_records_parent_id_collection_id_last_modified",
        "records",
        ["parent_id", "collection_id", "last_modified"],
        if_not_exists=True,
    )
    op.create_table(
        "timestamps",
        sa.Column("parent_id", sa.Text(), primary_key=True),
        sa.Column("collection_id", sa.Text(), primary_key=True),
        sa.Column("last_modified", sa.BigInteger(), nullable=False),
        if_not_exists=True,
    )
