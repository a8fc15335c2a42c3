"""``cliquet new``: the group of generators (project, backend, extension)."""

from __future__ import annotations

import click

__all__ = ["new"]


@click.group()
def new() -> None:
    """Generate a new project, backend or extension from a template."""
