"""Counts kept by the database, and indexes for what lists sort and filter on.

- ``record_counts``: each collection's number of live records, kept by triggers on the
  records table, whoever writes them (the backend, a bulk load, a script), so that an
  unfiltered count reads one row whatever the collection's size.
- The live records of a collection by ``last_modified`` (a partial index: tombstones left
  out): the default order and its keyset pages at any depth, and filtered counts.
- PostgreSQL: the records' data in a GIN index with ``jsonb_path_ops``, which answers the
  ``data @> '{"field": value}'`` that equality filters on fields carry (see
  ``cliquet.storage.sql_query``). SQLite has no such index.

Run in one transaction that holds off writers to the records (so that the counts start
exact): on a large table, building the indexes blocks writes while it runs.
"""

import sqlalchemy as sa
from alembic import op

revision = "storage_0002"
down_revision = "storage_0001"
branch_labels = None
depends_on = None

# One function for the three statement-level triggers: each collection's count moves by its
# live rows inserted, minus those gone (deleted, or turned into tombstones), plus those back.
POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION cliquet_count_records() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO record_counts AS c (parent_id, collection_id, live_records)
    SELECT parent_id, collection_id, count(*) FROM new_rows WHERE NOT deleted
    GROUP BY parent_id, collection_id
    ON CONFLICT (parent_id, collection_id)
    DO UPDATE SET live_records = c.live_records + excluded.live_records;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE record_counts AS c SET live_records = c.live_records - gone.n
    FROM (SELECT parent_id, collection_id, count(*) AS n FROM old_rows WHERE NOT deleted
          GROUP BY parent_id, collection_id) AS gone
    WHERE c.parent_id = gone.parent_id AND c.collection_id = gone.collection_id;
  ELSE
    INSERT INTO record_counts AS c (parent_id, collection_id, live_records)
    SELECT parent_id, collection_id, sum(delta) FROM (
      SELECT parent_id, collection_id, 1 AS delta FROM new_rows WHERE NOT deleted
      UNION ALL
      SELECT parent_id, collection_id, -1 FROM old_rows WHERE NOT deleted
    ) AS moved
    GROUP BY parent_id, collection_id HAVING sum(delta) <> 0
    ON CONFLICT (parent_id, collection_id)
    DO UPDATE SET live_records = c.live_records + excluded.live_records;
  END IF;
  RETURN NULL;
END
$$
"""
POSTGRESQL_TRIGGERS = {
    "insert": "AFTER INSERT ON records REFERENCING NEW TABLE AS new_rows",
    "update": "AFTER UPDATE ON records REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
    "delete": "AFTER DELETE ON records REFERENCING OLD TABLE AS old_rows",
}

# SQLite triggers are per row.
_SQLITE_ADD = """
  INSERT INTO record_counts (parent_id, collection_id, live_records)
  VALUES ({row}.parent_id, {row}.collection_id, {delta})
  ON CONFLICT (parent_id, collection_id)
  DO UPDATE SET live_records = live_records + excluded.live_records;
"""
SQLITE_TRIGGERS = {
    "insert": (
        "AFTER INSERT ON records WHEN NOT NEW.deleted",
        _SQLITE_ADD.format(row="NEW", delta=1),
    ),
    "update": (
        "AFTER UPDATE OF deleted ON records WHEN OLD.deleted IS NOT NEW.deleted",
        _SQLITE_ADD.format(row="NEW", delta="CASE WHEN NEW.deleted THEN -1 ELSE 1 END"),
    ),
    "delete": (
        "AFTER DELETE ON records WHEN NOT OLD.deleted",
        _SQLITE_ADD.format(row="OLD", delta=-1),
    ),
}


def upgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        # Writers wait until the counts are built and their triggers in place.
        op.execute("LOCK TABLE records IN SHARE ROW EXCLUSIVE MODE")
    op.create_table(
        "record_counts",
        sa.Column("parent_id", sa.Text(), primary_key=True),
        sa.Column("collection_id", sa.Text(), primary_key=True),
        sa.Column("live_records", sa.BigInteger(), nullable=False),
        if_not_exists=True,
    )
    op.execute("DELETE FROM record_counts")
    op.execute(
        "INSERT INTO record_counts (parent_id, collection_id, live_records) "
        "SELECT parent_id, collection_id, count(*) FROM records "
        f"WHERE {'NOT deleted' if postgresql else 'deleted = 0'} "
        "GROUP BY parent_id, collection_id"
    )
    if postgresql:
        op.execute(POSTGRESQL_FUNCTION)
        for event, when in POSTGRESQL_TRIGGERS.items():
            name = f"cliquet_count_records_{event}"
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON records")
            op.execute(
                f"CREATE TRIGGER {name} {when} "
                "FOR EACH STATEMENT EXECUTE FUNCTION cliquet_count_records()"
            )
    else:
        for event, (when, body) in SQLITE_TRIGGERS.items():
            name = f"cliquet_count_records_{event}"
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
            op.execute(f"CREATE TRIGGER {name} {when} BEGIN {body} END")
    op.create_index(
        "idx_records_live_parent_id_collection_id_last_modified",
        "records",
        ["parent_id", "collection_id", "last_modified"],
        # Spelled as each dialect spells the queries' condition, so that SQLite sees it holds.
        postgresql_where=sa.text("NOT deleted"),
        sqlite_where=sa.text("deleted = 0"),
        if_not_exists=True,
    )
    if postgresql:
        op.create_index(
            "idx_records_data_jsonb_path_ops",
            "records",
            ["data"],
            postgresql_using="gin",
            postgresql_ops={"data": "jsonb_path_ops"},
            if_not_exists=True,
        )
