"""Generate a project, backend or extension from its Cookiecutter template (``cliquet new``).

The commands of :mod:`cliquet_cli.new` parse and echo; the rest is here: finding the templates
shipped in the distribution (package ``cliquet_templates``), settling every variable before
anything is written (:mod:`cliquet_cli.variables` checks them), rendering through
Cookiecutter's public API in a staging directory beside the target, and moving the result into
place only once complete, so that a failure leaves nothing behind. Into an existing directory
(``--force``), the rules of :mod:`cliquet_cli.regeneration` apply. Any ``templates/<kind>/``
works, provided its ``cookiecutter.json`` names the package directory ``<kind>_name``.
"""

from __future__ import annotations

import configparser
import contextlib
import importlib.resources
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from cliquet_cli import base, provenance, regeneration
from cliquet_cli.distribution import installed_version, requirement
from cliquet_cli.variables import (
    Variables,
    check_answers,
    check_name,
    check_overrides,
    problem,
    read_variables,
    resolve,
)

__all__ = [
    "Generated",
    "available_kinds",
    "generate",
    "next_steps",
    "package_of",
    "render",
    "render_context",
    "report",
    "shown_path",
    "template_dir",
    "template_variables",
    "write_render",
]

# Set to "no" in every template that has it: the command prints the next steps itself.
_PRINT_NEXT_STEPS = "_print_next_steps"
# Set to the range that admits the installed cliquet-kit (cliquet_cli.distribution).
_CLIQUET_REQUIREMENT = "_cliquet_requirement"
# {variable: [file, section, option]}: values a re-generation reads back from the package
# instead of rendering them anew (the secret that keys user ids: new, users lose their data).
_KEPT = "_cliquet_kept"


@dataclass(frozen=True)
class Generated:
    """What :func:`generate` did, for the command to say (paths are POSIX, relative)."""

    kind: str
    name: str
    directory: Path
    written: list[str]
    # How an existing directory was re-generated (None: the directory is new).
    steps: regeneration.Plan | None = None
    kept_values: list[str] = field(default_factory=list)
    kept_answers: list[str] = field(default_factory=list)


def _templates_root() -> Path:
    return Path(str(importlib.resources.files("cliquet_templates")))


def available_kinds() -> list[str]:
    """The kinds of template shipped with cliquet (``backend``, ``extension``, ``project``)."""
    root = _templates_root()
    return sorted(p.name for p in root.iterdir() if (p / "cookiecutter.json").is_file())


def template_dir(kind: str) -> Path:
    """The directory of the ``kind`` template, as installed (a plain Cookiecutter template).

    :raises click.ClickException: no such template.
    """
    path = _templates_root() / kind
    if not (path / "cookiecutter.json").is_file():
        kinds = ", ".join(available_kinds()) or "none: reinstall cliquet"
        raise click.ClickException(f"No template named {kind!r} (available: {kinds}).")
    return path


def template_variables(kind: str) -> Variables:
    """The variables of the ``kind`` template (what ``--set`` may set, and how)."""
    return read_variables(kind, template_dir(kind))


def _directory_template(template: Path) -> str:
    for path in sorted(template.iterdir()):
        if path.is_dir() and "cookiecutter" in path.name and "{{" in path.name:
            return path.name
    raise click.ClickException(f"{template} holds no {{{{cookiecutter.*}}}} directory.")


def _directory_name(template: Path, answers: Mapping[str, Any]) -> str:
    from cookiecutter.environment import StrictEnvironment

    env = StrictEnvironment(context={"cookiecutter": dict(answers)})
    name = env.from_string(_directory_template(template)).render(cookiecutter=answers)
    if not name or name in (".", "..") or "/" in name or "\\" in name:
        raise click.ClickException(
            f"The options name the directory {name!r}; it must be a plain directory name."
        )
    return name


def _refuse_existing(kind: str, target: Path, force: bool) -> None:
    if not os.path.lexists(target):
        return
    if not target.is_dir():
        raise click.ClickException(f"{target} exists and is not a directory; remove it first.")
    if not force:
        raise click.ClickException(
            f"{target} already exists; pass --force to re-generate the {kind} there (its "
            "secrets and answers are kept, edited files refused), or choose another name "
            "or --output-dir."
        )


def _record_of(kind: str, target: Path) -> provenance.Provenance | None:
    record = provenance.read(target) if target.is_dir() else None
    if record is not None and record.template != kind:
        raise click.ClickException(
            f"{target} was generated from the {record.template} template, not the {kind} "
            "one; choose another name or --output-dir."
        )
    return record


def _kept_values(
    variables: Variables, target: Path, fallback: Mapping[str, bytes]
) -> tuple[dict[str, str], list[str]]:
    """The values the template keeps across re-generations, as the package has them now.

    A value the package no longer has (a secret moved to the environment) is taken from
    ``fallback``'s copy of the file, when it has one: rendered as before, it is not new to
    a three-way merge, and the user's removal stands.
    """
    values: dict[str, str] = {}
    said: list[str] = []
    for variable, (filename, section, option) in variables.raw.get(_KEPT, {}).items():
        value = ""
        for text in (
            _text(target / filename),
            fallback.get(filename, b"").decode("utf-8", "replace"),
        ):
            parser = configparser.ConfigParser(interpolation=None)
            try:
                parser.read_string(text)
            except configparser.Error:
                continue
            value = parser.get(section, option, fallback="")
            if value:
                break
        if value:
            values[variable] = value
            said.append(f"{option} of {filename}")
    return values, said


def _text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""


def _first_missing(path: Path) -> Path | None:
    """The outermost directory of ``path`` that does not exist yet (None: all exist)."""
    missing = None
    for candidate in [path, *path.parents]:
        if candidate.exists():
            break
        missing = candidate
    return missing


@contextlib.contextmanager
def _temporary_files_in(directory: Path) -> Iterator[None]:
    """Make ``directory`` the temporary folder of the block.

    Cookiecutter writes each hook script, rendered, to a temporary file it never removes:
    put there, they go with the staging directory. (The CLI is single-threaded.)
    """
    saved = tempfile.tempdir
    tempfile.tempdir = str(directory)
    try:
        yield
    finally:
        tempfile.tempdir = saved


def _literal(value: str) -> str:
    """A Jinja template that renders to ``value``, whatever it holds.

    Cookiecutter renders every variable it is given as a template: an answer holding
    ``{{ ... }}`` (a ``--set`` value, a cloned record, a secret read from a cloned package)
    would be evaluated, and could run code. As a string literal of escapes, it is only data;
    ``{% raw %}`` would not do, as the value may close it.
    """
    escaped = "".join(c if c.isascii() and c.isalnum() else f"\\U{ord(c):08x}" for c in value)
    return "{{ '" + escaped + "' }}"


def _as_literals(template: Path, context: Mapping[str, Any]) -> dict[str, Any]:
    """``context``, its values as Cookiecutter renders them to themselves.

    Values of a choice are left as they are (Cookiecutter looks them up in the template's
    choices, which cliquet checked them against), and so are those of the ``_`` variables,
    which Cookiecutter does not render.
    """
    raw = json.loads((template / "cookiecutter.json").read_text(encoding="utf-8"))
    return {
        k: _literal(v)
        if isinstance(v, str)
        and (k.startswith("__") or not k.startswith("_"))
        and not isinstance(raw.get(k), list)
        else v
        for k, v in context.items()
    }


def _cookiecutter(template: Path, context: Mapping[str, Any], staging: Path) -> Path:
    """Render ``template`` with every variable given, through Cookiecutter's public API.

    Neither the user's Cookiecutter configuration nor its replay directory is used: what is
    rendered depends on the options alone, and nothing is left outside ``staging``. Each
    value reaches the files as given: never evaluated as a template (:func:`_literal`).
    """
    from cookiecutter.exceptions import (
        CookiecutterException,
        FailedHookException,
        UndefinedVariableInTemplate,
    )
    from cookiecutter.main import cookiecutter

    scratch = staging / "tmp"
    scratch.mkdir()
    config = staging / "config.yaml"
    config.write_text(
        f"cookiecutters_dir: {json.dumps(str(staging / 'cookiecutters'))}\n"
        f"replay_dir: {json.dumps(str(staging / 'replay'))}\n",
        encoding="utf-8",
    )
    # Cookiecutter logs a failed hook with its traceback; the error below says it all.
    quiet = logging.NullHandler()
    logger = logging.getLogger("cookiecutter")
    logger.addHandler(quiet)
    try:
        with _temporary_files_in(scratch):
            return Path(
                cookiecutter(
                    str(template),
                    no_input=True,
                    extra_context=_as_literals(template, context),
                    output_dir=str(staging / "out"),
                    config_file=str(config),
                )
            )
    except FailedHookException as e:
        raise click.ClickException(
            f"The template refused these options ({e}); its reason is printed above."
        ) from None
    except UndefinedVariableInTemplate as e:
        raise click.ClickException(f"{e.message}: {e.error.message}") from None
    except (CookiecutterException, OSError, ValueError) as e:
        raise click.ClickException(f"Generation failed: {e}") from None
    finally:
        logger.removeHandler(quiet)


def render(kind: str, name: str, **options: Any) -> Path:
    """Generate a ``kind`` package named ``name``; return its directory.

    :func:`generate` (the same options), for callers that need only the directory.
    """
    return generate(kind, name, **options).directory


def generate(
    kind: str,
    name: str,
    *,
    output_dir: str | os.PathLike[str] = ".",
    extra_context: Mapping[str, str] | None = None,
    no_input: bool = False,
    force: bool = False,
    overwrite_edited: bool = False,
) -> Generated:
    """Generate a ``kind`` package named ``name`` in ``output_dir``; say what was done.

    Everything that can be checked is checked before the first prompt: the name, the
    ``--set`` values, an existing target. NAME and ``--set`` values are not asked again.
    Generation happens in a staging directory inside ``output_dir``, moved into place once
    complete. An existing target is re-generated with ``force``: its recorded answers are the
    defaults, its secrets are kept, its unedited files follow the template, and its edited
    ones are refused (nothing written) unless ``overwrite_edited``.

    :param kind: a directory of the templates (``project``, ``backend``, ``extension``).
    :param name: the value of the template's ``<kind>_name`` variable.
    :param output_dir: where the package directory goes (created if missing).
    :param extra_context: template variables to set (the ``--set key=value`` options).
    :param no_input: use the defaults instead of prompting.
    :param force: re-generate an existing package directory.
    :param overwrite_edited: with ``force``, replace the files edited since generation too.
    :raises click.BadParameter: a bad name or option (exit code 2).
    :raises click.ClickException: an existing target without ``force``, edited files, or a
        failed generation (then nothing is left behind).
    """
    force = force or overwrite_edited
    template = template_dir(kind)
    variables = read_variables(kind, template)
    output = Path(os.path.abspath(output_dir))
    check_name(kind, name)
    fixed = {variables.name_key: name, **check_overrides(variables, extra_context or {})}

    # With the defaults first: refuse an existing target before anything is asked.
    target = output / _directory_name(template, resolve(variables, fixed, {}, ask=False))
    _refuse_existing(kind, target, force)
    record = _record_of(kind, target)
    recorded = record.answers if record is not None else {}
    check_answers(variables, resolve(variables, fixed, recorded, ask=False), fixed, home=target)
    answers = resolve(
        variables,
        fixed,
        recorded,
        ask=not no_input,
        check=lambda key, value: problem(key, value, home=target),
    )
    if target != output / _directory_name(template, answers):
        target = output / _directory_name(template, answers)
        _refuse_existing(kind, target, force)
        record = _record_of(kind, target)
    check_answers(variables, answers, fixed, home=target)

    public = {k: v for k, v in answers.items() if not k.startswith("_")}
    context, kept_said = render_context(variables, answers, target)
    kept_answers = [
        f"{k}={v}"
        for k, v in public.items()
        if k in recorded and k not in fixed and recorded[k] == v
    ]
    written, steps = write_render(
        kind, template, context, target, record, overwrite_edited=overwrite_edited
    )
    return Generated(kind, name, target, written, steps, kept_said, kept_answers)


def render_context(
    variables: Variables,
    answers: Mapping[str, Any],
    target: Path,
    *,
    base: Mapping[str, bytes] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """What Cookiecutter renders ``answers`` with, and which kept values of ``target`` it holds.

    The public answers, the private variables cliquet sets itself, and the values an existing
    package keeps across re-generations (its secret), read from it, else from ``base`` (its
    files as generated).
    """
    context: dict[str, Any] = {k: v for k, v in answers.items() if not k.startswith("_")}
    if _PRINT_NEXT_STEPS in variables.raw:
        context[_PRINT_NEXT_STEPS] = "no"
    if _CLIQUET_REQUIREMENT in variables.raw:
        context[_CLIQUET_REQUIREMENT] = requirement()
    kept_values, kept_said = (
        _kept_values(variables, target, base or {}) if target.is_dir() else ({}, [])
    )
    context.update(kept_values)
    return context, kept_said


# Given the fresh render (record and base included), the existing target and its record:
# writes into the target, returns the files written and what the caller reports.
Finish = Callable[[Path, Path, "provenance.Provenance | None"], tuple[list[str], Any]]


def _regenerate(
    staged: Path, target: Path, record: provenance.Provenance | None, *, overwrite_edited: bool
) -> tuple[list[str], regeneration.Plan]:
    steps = regeneration.plan(staged, target, record)
    written = regeneration.apply(
        steps, overwrite_edited=overwrite_edited, shown=shown_path(target)
    )
    return written, steps


def write_render(
    kind: str,
    template: Path,
    context: dict[str, Any],
    target: Path,
    record: provenance.Provenance | None,
    *,
    overwrite_edited: bool = False,
    finish: Finish | None = None,
    stage_in: str | None = None,
) -> tuple[list[str], Any]:
    """Render in a staging directory beside ``target``, record it, then move it into place.

    Return the files written, and how an existing ``target`` was re-generated (by default,
    the rules of :mod:`cliquet_cli.regeneration`; ``finish`` replaces them, e.g. with
    ``cliquet update``'s merge). The record keeps the packages ``record`` lists as its parts.

    On any failure, the staging directory goes, and so do the directories created for
    ``target``'s parent.

    :param stage_in: where to stage instead (an existing ``target`` is written file by file,
        so the render need not be on its file system).
    """
    output = target.parent
    created = _first_missing(output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise click.ClickException(f"Cannot create {output}: {e}") from None
    staging = Path(tempfile.mkdtemp(prefix=".cliquet-new-", dir=stage_in or output))
    done = False
    try:
        staged = _cookiecutter(template, context, staging)
        answers = {k: v for k, v in context.items() if not k.startswith("_")}
        files = provenance.digests(staged)
        base.write(staged, list(files))
        provenance.write(
            staged,
            provenance.Provenance(
                template=kind,
                cliquet_version=installed_version(),
                answers=answers,
                files=files,
                parts=list(record.parts) if record is not None else [],
            ),
        )
        if not os.path.lexists(target):
            os.replace(staged, target)
            done = True
            return list(files), None
        if finish is None:
            written, steps = _regenerate(staged, target, record, overwrite_edited=overwrite_edited)
        else:
            written, steps = finish(staged, target, record)
        done = True
        return written, steps
    except OSError as e:
        raise click.ClickException(f"Cannot write {target}: {e}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done and created is not None:
            shutil.rmtree(created, ignore_errors=True)


def _listed(names: list[str], *, limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _files(count: int) -> str:
    return f"{count} file{'' if count == 1 else 's'}"


def report(generated: Generated) -> str:
    """What the command prints: what was created, or what a re-generation wrote and kept."""
    where = shown_path(generated.directory)
    steps = generated.steps
    if steps is None:
        header = f"Created {generated.kind} {generated.name} in {where}\n"
        return f"{header}\n{next_steps(generated.kind, generated.directory)}"
    lines = [f"Re-generated {generated.kind} {generated.name} in {where}"]
    if generated.written:
        notes = {n: " (new)" for n in steps.created}
        notes.update({n: " (edited, overwritten)" for n in steps.edited})
        written = [f"{n}{notes.get(n, '')}" for n in generated.written]
        lines.append(f"  wrote {_files(len(written))}: {_listed(written)}")
    else:
        lines.append("  wrote nothing: every file is as the template renders it")
    if steps.unchanged:
        lines.append(f"  left {_files(len(steps.unchanged))} as they were (unchanged)")
    for value in generated.kept_values:
        lines.append(f"  kept {value}")
    if generated.kept_answers:
        lines.append(f"  kept the recorded answers: {', '.join(generated.kept_answers)}")
    if steps.others:
        count = _files(len(steps.others))
        lines.append(f"  kept {count} not from the template: {_listed(steps.others)}")
    if steps.dropped:
        lines.append(f"  left in place, no longer generated: {_listed(steps.dropped)}")
    return "\n".join(lines)


def package_of(directory: Path) -> str | None:
    """The name of the package a generated directory holds (the one that is not ``tests``)."""
    if not directory.is_dir():
        return None
    packages = sorted(
        p.name for p in directory.iterdir() if (p / "__init__.py").is_file() and p.name != "tests"
    )
    return packages[0] if packages else None


def _test_extra(directory: Path) -> str | None:
    """The optional dependencies that bring the test tools (``test`` or ``dev``), if any."""
    pyproject = directory / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else ""
    for extra in ("test", "dev"):
        if re.search(rf"^{extra}\s*=\s*\[", text, re.MULTILINE):
            return extra
    return None


def shown_path(path: Path) -> str:
    """``path`` relative to the working directory when under it, to copy and paste."""
    try:
        relative = path.relative_to(Path.cwd())
    except ValueError:
        return str(path)
    return str(relative)


def next_steps(kind: str, directory: Path) -> str:
    """What to run after generating a ``kind`` package in ``directory``, as shell lines."""
    extra = _test_extra(directory)
    install = f"pip install -e '.[{extra}]'" if extra else "pip install -e . pytest"
    lines = [f"cd {shown_path(directory)}", install, "python -m pytest"]
    package = package_of(directory) or "PACKAGE"
    if kind == "project":
        lines.append("pserve development.ini        # serves http://localhost:8888/v1/")
    elif kind == "backend":
        modules = [
            k
            for k in ("cache", "storage", "permission")
            if (directory / package / f"{k}.py").is_file()
        ]
        for module in modules or ["KIND"]:
            lines.append(
                f"# then, in a service's .ini: cliquet.{module}_backend = {package}.{module}"
            )
    elif kind == "extension":
        lines.append(f"# then, in a service's .ini: cliquet.includes = {package}")
    return "\n".join(["Next steps:", *(f"  {line}" for line in lines)])
