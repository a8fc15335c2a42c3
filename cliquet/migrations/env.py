"""Alembic environment of cliquet's SQL backends, driven by :mod:`cliquet.migration`.

The connection and the version table come from ``config.attributes``: each component
(storage, cache, permission) has its own chain of revisions and its own version table,
since each may live in a database of its own.
"""

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    version_table=context.config.attributes["version_table"],
    transactional_ddl=True,
)
with context.begin_transaction():
    context.run_migrations()
