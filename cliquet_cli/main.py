"""The root ``cliquet`` command group."""

from __future__ import annotations

import click

from cliquet_cli.add import add
from cliquet_cli.distribution import installed_version
from cliquet_cli.migrate import migrate
from cliquet_cli.new import new
from cliquet_cli.update import update

__all__ = ["cli"]


@click.group(name="cliquet", context_settings={"help_option_names": ["-h", "--help"]})
# The distribution's metadata (cliquet-kit), not `cliquet.__version__`: no need to import
# Pyramid for it.
@click.version_option(
    installed_version(), "--version", prog_name="cliquet", message="%(prog)s %(version)s"
)
def cli() -> None:
    """Create and run cliquet REST microservices.

    Generators live under `cliquet new`; each command has its own --help.
    """


cli.add_command(new)
cli.add_command(migrate)
cli.add_command(update)
cli.add_command(add)
