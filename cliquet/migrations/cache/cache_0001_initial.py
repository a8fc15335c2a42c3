"""The cache table."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "cache_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "cache",
        sa.Column(
            "key",
            sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql"),
            primary_key=True,
        ),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("expires_at", sa.Double(), nullable=True),
        if_not_exists=True,
    )
    op.create_index("idx_cache_expires_at", "cache", ["expires_at"], if_not_exists=True)
