"""The user principals and access control entries tables."""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "permission_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_principals",
        sa.Column("user_id", sa.Text(), primary_key=True),
        sa.Column("principal", sa.Text(), primary_key=True),
        if_not_exists=True,
    )
    op.create_table(
        "access_control_entries",
        sa.Column(
            "object_id",
            sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql"),
            primary_key=True,
        ),
        sa.Column("permission", sa.Text(), primary_key=True),
        sa.Column("principal", sa.Text(), primary_key=True),
        if_not_exists=True,
    )
    op.create_index(
        "idx_access_control_entries_principal_object_id",
        "access_control_entries",
        ["principal", "object_id"],
        if_not_exists=True,
    )
