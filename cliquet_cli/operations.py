"""What the commands do, kept out of the Click layer (testable, reusable)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError
from pathlib import Path
from typing import Any

import click

__all__ = ["run_migrations"]

# Built to be migrated, the service must not migrate while it starts.
_NO_MIGRATION_AT_START_UP = "CLIQUET_MIGRATE_ON_STARTUP"


@contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = saved


def _not_installed(ini_file: str, error: PackageNotFoundError) -> click.ClickException:
    directory = Path(ini_file).resolve().parent
    where = "" if directory == Path.cwd() else f" {directory}"
    return click.ClickException(
        f"{Path(ini_file).name} names the distribution {error.name!r}, which is not "
        f"installed: run `pip install -e{where or ' .'}` first."
    )


def _build_service(ini_file: str, app_name: str) -> Any:
    """The service's application, built by its own ``main()``, as ``pserve`` would."""
    from pyramid.exceptions import ConfigurationError
    from pyramid.paster import get_app

    from cliquet.startup import error_line

    name = Path(ini_file).name
    try:
        with _environment(_NO_MIGRATION_AT_START_UP, "false"):
            return get_app(ini_file, name=app_name)
    except PackageNotFoundError as e:  # use = egg:NAME of a project not installed yet
        raise _not_installed(ini_file, e) from None
    except LookupError as e:
        raise click.ClickException(f"{name}: no [app:{app_name}] section ({e}).") from None
    except ConfigurationError as e:
        raise click.ClickException(error_line(e, name)) from None
    except SystemExit as e:  # cliquet.startup.app_factory said it in one line
        if isinstance(e.code, str):
            raise click.ClickException(e.code) from None
        raise
    except ImportError as e:
        raise click.ClickException(f"{name}: the service cannot be imported ({e}).") from None
    except Exception as e:  # malformed .ini: configparser and plaster errors
        raise click.ClickException(f"{name}: cannot read its settings ({e}).") from None


def run_migrations(ini_file: str, *, app_name: str = "main", dry_run: bool = False) -> list[str]:
    """Migrate the backends of the service that ``ini_file`` configures.

    The service is built by its own ``main()`` (its default settings, the packages of
    ``cliquet.includes``, the ``CLIQUET_*`` environment), with ``cliquet.migrate_on_startup``
    off: the backends migrated are those it would use when served.

    :raises click.ClickException: the file, its settings or a database is wrong, or the
        service is not installed.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from cliquet.cache import CacheError
    from cliquet.migration import migrate_registry
    from cliquet.permission import PermissionBackendError
    from cliquet.storage import StorageError

    app = _build_service(ini_file, app_name)
    registry = getattr(app, "registry", None)
    if registry is None or getattr(registry, "storage", None) is None:
        raise click.ClickException(
            f"{Path(ini_file).name}: [app:{app_name}] is not a cliquet service "
            "(its application has no registry.storage)."
        )
    try:
        return migrate_registry(registry, dry_run=dry_run)
    except (StorageError, CacheError, PermissionBackendError, SQLAlchemyError) as e:
        raise click.ClickException(f"A database could not be migrated: {e}") from None
