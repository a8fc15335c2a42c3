"""``cliquet migrate``: create or upgrade the backends' schemas of a service."""

from __future__ import annotations

import click

__all__ = ["migrate"]


@click.command()
@click.option(
    "--ini",
    "ini_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The service's .ini file; the service is built from it as pserve would build it.",
)
@click.option(
    "--app-name", default="main", show_default=True, help="Which [app:NAME] section to read."
)
@click.option("--dry-run", is_flag=True, default=False, help="Only tell what would be done.")
def migrate(ini_file: str, app_name: str, dry_run: bool) -> None:
    """Create or upgrade the schemas of the storage, cache and permission backends.

    The service is built by its own main() (its defaults, cliquet.includes, the CLIQUET_*
    environment), so its package must be installed. Idempotent: run it on every deployment.
    Each SQL backend records its schema revision in its database.
    """
    from cliquet_cli.operations import run_migrations

    for line in run_migrations(ini_file, app_name=app_name, dry_run=dry_run):
        click.echo(line)
