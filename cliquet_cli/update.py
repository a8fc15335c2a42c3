"""``cliquet update``: bring a generated package up to the installed cliquet's templates."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["update"]


@click.command()
@click.argument(
    "path", type=click.Path(file_okay=False, exists=True, path_type=Path), default=Path(".")
)
@click.option(
    "--no-input",
    is_flag=True,
    default=False,
    show_default=True,
    help="Do not prompt: template variables new since generation take their defaults.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    default=False,
    show_default=True,
    help="Print the diff of what would change, and write nothing.",
)
@click.option(
    "--allow-dirty",
    is_flag=True,
    default=False,
    show_default=True,
    help="Update even if the git work tree has uncommitted changes.",
)
def update(path: Path, no_input: bool, dry_run: bool, allow_dirty: bool) -> None:
    """Merge the installed cliquet's template into the package at PATH (default: here).

    The template recorded in PATH/.cliquet.json is rendered again with the recorded answers
    and merged three ways: files you never touched follow the template, files only you
    changed are kept, files both changed are merged line by line, with conflict markers
    where you both changed the same lines (listed at the end; exit code 1). Variables new
    to the template are asked (defaults with --no-input) and named. Packages added with
    `cliquet add` are updated too. A git tree with uncommitted changes is refused.

    \b
    Examples:
      cliquet update --dry-run           # the diff, nothing written
      cliquet update                     # then: git diff, run the tests, commit
      cliquet update ../myservice --no-input --allow-dirty
    """
    from cliquet_cli.updating import refuse_dirty, report
    from cliquet_cli.updating import update as run_update

    if not allow_dirty:
        refuse_dirty(path)
    text, conflicts = report(run_update(path, no_input=no_input, dry_run=dry_run), dry_run=dry_run)
    click.echo(text)
    if conflicts:
        raise click.exceptions.Exit(1)
