"""Each collection's timestamps row keeps the timestamp before its last bump (``previous``).

A writer bumps its collection's row and learns the timestamp it replaced in the same
statement (``INSERT ... ON CONFLICT DO UPDATE ... RETURNING previous, last_modified``), so
that locking, reserving the write's timestamp and reading the one the preconditions compare
with cost one round trip. ``RETURNING`` gives the row as updated: the replaced value has to
be a column of it. Nullable, and ``NULL`` on existing rows: nothing reads it but the
transaction that has just set it.
"""

import sqlalchemy as sa
from alembic import op

revision = "storage_0003"
down_revision = "storage_0002"
branch_labels = None
depends_on = None


def upgrade():
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("timestamps")}
    if "previous" not in columns:
        op.add_column("timestamps", sa.Column("previous", sa.BigInteger(), nullable=True))


def downgrade():
    with op.batch_alter_table("timestamps") as batch:
        batch.drop_column("previous")
