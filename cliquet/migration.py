"""Schema migrations of the SQL backends, with Alembic.

Each component (``storage``, ``cache``, ``permission``) has its own chain of revisions in
``cliquet/migrations/<component>/`` and records where its database stands in its own version
table (``cliquet_<component>_version``). Backends' ``initialize_schema()`` calls
:func:`migrate`; so does ``cliquet migrate --ini FILE``, and start-up when
``cliquet.migrate_on_startup`` is on. Nothing creates tables at request time.
"""

from __future__ import annotations

import functools
import pathlib
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from cliquet.sql import IMMEDIATE

__all__ = [
    "migrate",
    "migrate_backends",
    "migrate_registry",
    "current_revision",
    "head_revision",
    "COMPONENTS",
]

COMPONENTS = ("storage", "cache", "permission")
_HERE = pathlib.Path(__file__).parent / "migrations"


def _config(component: str) -> Config:
    if component not in COMPONENTS:
        raise ValueError(f"Unknown component {component!r}; expected one of {COMPONENTS}.")
    config = Config()
    config.set_main_option("script_location", str(_HERE))
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", str(_HERE / component))
    config.attributes["version_table"] = f"cliquet_{component}_version"
    return config


@functools.cache
def head_revision(component: str) -> str | None:
    """The newest revision of ``component``'s schema.

    Read once per process: the revisions ship with the package, and loading them (every
    revision file) would otherwise cost each start-up that finds its database up to date.
    """
    return ScriptDirectory.from_config(_config(component)).get_current_head()


def current_revision(connection: Connection, component: str) -> str | None:
    """Where the database stands for ``component`` (None: never migrated)."""
    context = MigrationContext.configure(
        connection, opts={"version_table": f"cliquet_{component}_version"}
    )
    return context.get_current_revision()


@contextmanager
def _write_transaction(connection: Connection) -> Iterator[None]:
    """A transaction holding the write lock from its start on SQLite (see cliquet.sql)."""
    connection.info[IMMEDIATE] = True
    with connection.begin():
        yield


def migrate(engine: Engine, component: str, *, dry_run: bool = False) -> str:
    """Bring ``component``'s tables to the newest revision; idempotent.

    :param engine: the backend's engine.
    :param component: ``storage``, ``cache`` or ``permission``.
    :param dry_run: only tell what would be done.
    :returns: one line telling what was (or would be) done.
    """
    head = head_revision(component)
    if dry_run and _missing_sqlite_file(engine):
        # Connecting would create the file: a dry run creates nothing.
        return f"{component}: would create {engine.url.database} and upgrade empty -> {head}"
    with engine.connect() as connection, _write_transaction(connection):
        if connection.dialect.name == "postgresql":
            # A migration may take longer than requests may (cliquet.<x>_statement_timeout_ms).
            connection.execute(text("SET LOCAL statement_timeout = 0"))
            connection.execute(text("SET LOCAL lock_timeout = 0"))
            # Workers starting together migrate one at a time; the others then find it done
            # (on SQLite, _write_transaction holds the write lock from the start).
            key = zlib.crc32(f"cliquet.migrate.{component}".encode())
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        before = current_revision(connection, component)
        if before == head:
            return f"{component}: up to date (revision {head})"
        start = before or "empty"
        if dry_run:
            return f"{component}: would upgrade {start} -> {head}"
        config = _config(component)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return f"{component}: upgraded {start} -> {head}"


def _missing_sqlite_file(engine: Engine) -> bool:
    database = engine.url.database
    if engine.dialect.name != "sqlite" or database in (None, "", ":memory:"):
        return False
    return not pathlib.Path(database).exists()


def _migrate_backend(component: str, backend: Any, *, dry_run: bool) -> str:
    engine = getattr(backend, "engine", None)
    if isinstance(engine, Engine):
        return migrate(engine, component, dry_run=dry_run)
    name = type(backend).__module__
    done = None if dry_run else backend.initialize_schema()
    return done if isinstance(done, str) else f"{component}: nothing to migrate ({name})"


def migrate_registry(registry: Any, *, dry_run: bool = False) -> list[str]:
    """Create or upgrade the schema of each backend of a built service; one line per backend.

    ``cliquet migrate`` builds the service with its own ``main()`` (its defaults, its
    ``cliquet.includes``, the environment), then migrates what that service would use.

    :param registry: the application's registry (``registry.storage``, ``.cache``...).
    :raises cliquet.storage.StorageError: (or the cache/permission error) a database failed.
    """
    return [
        _migrate_backend(component, getattr(registry, component), dry_run=dry_run)
        for component in COMPONENTS
        if getattr(registry, component, None) is not None
    ]


def migrate_backends(config: Any, *, dry_run: bool = False) -> list[str]:
    """Create or upgrade the schema of each configured backend; one line per backend.

    :param config: a ``Configurator`` whose settings name the backends.
    :raises pyramid.exceptions.ConfigurationError: a backend setting is wrong.
    :raises cliquet.storage.StorageError: (or the cache/permission error) a database failed.
    """
    from cliquet.cache import CacheBase
    from cliquet.initialization import load_backend
    from cliquet.permission import PermissionBase
    from cliquet.storage import StorageBase

    lines = []
    for component, base in (
        ("storage", StorageBase),
        ("cache", CacheBase),
        ("permission", PermissionBase),
    ):
        backend = load_backend(config, f"cliquet.{component}_backend", base)
        lines.append(_migrate_backend(component, backend, dry_run=dry_run))
    return lines
