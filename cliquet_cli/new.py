"""``cliquet new``: the group of generators (project, backend, extension).

Each command parses its options, calls :func:`cliquet_cli.render.generate` and echoes its
report (where the package went and what to run next, or what a re-generation wrote and
kept); the templates are plain Cookiecutter templates shipped with cliquet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

__all__ = ["BACKEND_KIND", "NO_INPUT", "SET", "new"]

F = TypeVar("F", bound=Callable[..., Any])


class _KeyValue(click.ParamType):
    """``key=value``, as ``(key, value)``."""

    name = "KEY=VALUE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, tuple):
            return value
        key, sep, text = str(value).partition("=")
        if not sep or not key.strip():
            self.fail(f"{value!r} is not KEY=VALUE (e.g. --set package_name=mysvc).", param, ctx)
        return key.strip(), text


# Shared with `cliquet add` (cliquet_cli/add.py).
NO_INPUT = click.option(
    "--no-input",
    is_flag=True,
    default=False,
    show_default=True,
    help="Do not prompt: take the template's defaults and the --set values.",
)
SET = click.option(
    "--set",
    "settings",
    type=_KeyValue(),
    multiple=True,
    default=(),
    show_default=True,
    help="Set a template variable; repeatable (e.g. --set package_name=mypkg).",
)
BACKEND_KIND = click.option(
    "--kind",
    type=click.Choice(["cache", "storage", "permission"]),
    default=None,
    show_default="prompted; cache with --no-input",
    help="Which backend contract the package implements.",
)


def _generator_options(function: F) -> F:
    """The options every generator takes."""
    options = [
        NO_INPUT,
        click.option(
            "--output-dir",
            "-o",
            type=click.Path(file_okay=False, path_type=Path),
            default=Path("."),
            show_default=True,
            help="Where to create the package directory (created if missing).",
        ),
        SET,
        click.option(
            "--force",
            is_flag=True,
            default=False,
            show_default=True,
            help="Re-generate an existing directory: unedited files follow the template; "
            "secrets, recorded answers and other files are kept; edited files are refused.",
        ),
        click.option(
            "--overwrite-edited",
            is_flag=True,
            default=False,
            show_default=True,
            help="With --force (implied): replace the files edited since generation too.",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


class _Generator(click.Command):
    """A generator, whose help ends with its template's variables (what --set may set)."""

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from cliquet_cli.render import template_variables
        from cliquet_cli.variables import describe

        with formatter.section("Template variables (--set KEY=VALUE; asked unless given)"):
            formatter.write_dl(describe(template_variables(str(self.name))))
        super().format_epilog(ctx, formatter)


def _generate(
    kind: str,
    name: str,
    *,
    no_input: bool,
    output_dir: Path,
    settings: Sequence[tuple[str, str]],
    force: bool,
    overwrite_edited: bool,
    extra: dict[str, str] | None = None,
) -> None:
    from cliquet_cli.render import generate, report

    context = {**dict(settings), **(extra or {})}
    generated = generate(
        kind,
        name,
        output_dir=output_dir,
        extra_context=context,
        no_input=no_input,
        force=force,
        overwrite_edited=overwrite_edited,
    )
    click.echo(report(generated))


@click.group()
def new() -> None:
    """Generate a new project, backend or extension from a template.

    The templates are plain Cookiecutter templates shipped with cliquet (the repository's
    templates/<kind>/); every generator asks for the variables its command line did not give,
    unless --no-input. Into an existing directory, --force re-generates: what the package
    already has (its secret, the answers recorded in .cliquet.json, files not from the
    template) is kept, and files edited since generation are refused unless
    --overwrite-edited.
    """


@new.command(cls=_Generator)
@click.argument("name")
@_generator_options
def project(name: str, **options: Any) -> None:
    """A service: NAME/ with its package, development.ini, production.ini and tests.

    development.ini runs on SQLite with no server (pserve development.ini); production.ini
    on PostgreSQL and Redis under gunicorn, with its secrets in the environment.
    """
    _generate("project", name, **options)


@new.command(cls=_Generator)
@click.argument("name")
@BACKEND_KIND
@_generator_options
def backend(name: str, kind: str | None, **options: Any) -> None:
    """A backend package: cliquet-NAME/ with cliquet_NAME/<kind>.py and its conformance tests."""
    _generate("backend", name, extra={"kind": kind} if kind else None, **options)


@new.command(cls=_Generator)
@click.argument("name")
@_generator_options
def extension(name: str, **options: Any) -> None:
    """An extension: cliquet-NAME/ with includeme(config), settings, a view and tests."""
    _generate("extension", name, **options)
