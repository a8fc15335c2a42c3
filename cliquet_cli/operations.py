"""What the commands do, kept out of the Click layer (testable, reusable)."""

from __future__ import annotations

import click

__all__ = ["run_migrations"]


def run_migrations(ini_file: str, *, app_name: str = "main", dry_run: bool = False) -> list[str]:
    """Migrate the backends named by the settings of ``ini_file``.

    :raises click.ClickException: the file, its settings or a database is wrong.
    """
    from pyramid.config import Configurator
    from pyramid.exceptions import ConfigurationError
    from pyramid.paster import get_appsettings
    from sqlalchemy.exc import SQLAlchemyError

    from cliquet.cache import CacheError
    from cliquet.migration import migrate_backends
    from cliquet.permission import PermissionBackendError
    from cliquet.settings import DEFAULT_SETTINGS, load_default_settings, override_from_environment
    from cliquet.storage import StorageError

    try:
        settings = get_appsettings(ini_file, name=app_name)
    except LookupError as e:
        raise click.ClickException(f"{ini_file}: no [app:{app_name}] section ({e}).") from None
    except Exception as e:  # malformed .ini: configparser and plaster errors
        raise click.ClickException(f"{ini_file}: cannot read its settings ({e}).") from None
    config = Configurator(settings=dict(settings))
    try:
        override_from_environment(config)
        load_default_settings(config, DEFAULT_SETTINGS)
        return migrate_backends(config, dry_run=dry_run)
    except ConfigurationError as e:
        raise click.ClickException(str(e)) from None
    except (StorageError, CacheError, PermissionBackendError, SQLAlchemyError) as e:
        raise click.ClickException(f"A database could not be migrated: {e}") from None
