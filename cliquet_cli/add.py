"""``cliquet add``: generate a backend or an extension inside a service, wired in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from cliquet_cli.new import BACKEND_KIND, NO_INPUT, SET

__all__ = ["add"]

_PROJECT = click.option(
    "--project-dir",
    "-C",
    "project",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The service's directory (the one holding its .cliquet.json).",
)


@click.group()
def add() -> None:
    """Generate a backend or an extension inside a service, and wire it in.

    The package goes beside the service's own package (myservice/cliquet-NAME/), becomes a
    dependency of its pyproject.toml, is enabled in development.ini, and is recorded in
    .cliquet.json, so that `cliquet update` updates it with the service.
    """


def _add(kind: str, name: str, project: Path, settings: Any, **options: Any) -> None:
    from cliquet_cli.adding import add as run_add
    from cliquet_cli.adding import report

    click.echo(report(run_add(project, kind, name, extra_context=dict(settings), **options)))


@add.command()
@click.argument("name")
@BACKEND_KIND
@_PROJECT
@NO_INPUT
@SET
def backend(name: str, kind: str | None, project: Path, no_input: bool, settings: Any) -> None:
    """A backend cliquet-NAME/, set as the service's cliquet.<kind>_backend.

    \b
    Examples:
      cliquet add backend riak --kind cache      # cliquet.cache_backend = cliquet_riak.cache
      cliquet add backend s3 --kind storage -C myservice --no-input
    """
    _add("backend", name, project, settings, backend_kind=kind, no_input=no_input)


@add.command()
@click.argument("name")
@_PROJECT
@NO_INPUT
@SET
def extension(name: str, project: Path, no_input: bool, settings: Any) -> None:
    """An extension cliquet-NAME/, appended to the service's cliquet.includes.

    \b
    Examples:
      cliquet add extension stats                # cliquet.includes = ... cliquet_stats
      cliquet add extension audit -C myservice --no-input --set author='Ada L.'
    """
    _add("extension", name, project, settings, no_input=no_input)
