"""Generate a project, backend or extension from its Cookiecutter template (``cliquet new``).

The commands of :mod:`cliquet_cli.new` parse and echo; the rest is here: finding the templates
shipped in the distribution (package ``cliquet_templates``), checking the name and options
before anything is written, and generating into a staging directory beside the target, moved
into place only once complete, so that a failure leaves nothing behind. Any
``templates/<kind>/`` works, provided its ``cookiecutter.json`` names the package directory
``<kind>_name``.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import keyword
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

from cliquet_cli.distribution import requirement

__all__ = [
    "available_kinds",
    "next_steps",
    "package_of",
    "render",
    "shown_path",
    "template_dir",
    "validate_name",
]

# A distribution name (PEP 508), which also makes a portable directory name.
_DISTRIBUTION = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
# Packages a generated one must not shadow, besides the standard library.
_TAKEN = frozenset(
    {"cliquet", "cliquet_cli", "cliquet_templates", "colander", "cornice", "pyramid", "tests"}
)
_BOOLEAN_WORDS = frozenset(
    {"1", "true", "t", "yes", "y", "on", "0", "false", "f", "no", "n", "off"}
)
# Set to "no" in every template that has it: the command prints the next steps itself.
_PRINT_NEXT_STEPS = "_print_next_steps"
# Set to the range that admits the installed cliquet-kit (cliquet_cli.distribution).
_CLIQUET_REQUIREMENT = "_cliquet_requirement"


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


def validate_name(kind: str, name: str) -> str:
    """Return the Python name that ``name`` slugs to (``my-service`` -> ``my_service``).

    :raises click.ClickException: saying why ``name`` cannot name a package.
    """
    from slugify import slugify

    if not _DISTRIBUTION.match(name):
        raise click.ClickException(
            f"Invalid {kind} name {name!r}: use ASCII letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit (e.g. my-service)."
        )
    slug = slugify(name, separator="_")
    if not slug.isidentifier():
        raise click.ClickException(
            f"Invalid {kind} name {name!r}: it becomes the Python name {slug!r}, which is not "
            "an identifier; start it with a letter (e.g. my-service)."
        )
    if keyword.iskeyword(slug):
        raise click.ClickException(
            f"Invalid {kind} name {name!r}: {slug!r} is a Python keyword; choose another name."
        )
    return slug


def _validate_package(kind: str, package: str) -> None:
    if not package.isidentifier() or keyword.iskeyword(package):
        raise click.ClickException(
            f"Invalid package name {package!r} for the {kind}: it must be a Python identifier."
        )
    if package in _TAKEN or package in sys.stdlib_module_names:
        raise click.ClickException(
            f"The package name {package!r} is already taken by another module (importing it "
            "would shadow that one); choose another name."
        )


def _read_variables(template: Path) -> dict[str, Any]:
    try:
        variables = json.loads((template / "cookiecutter.json").read_text(encoding="utf-8"))
    except ValueError as e:
        raise click.ClickException(f"{template / 'cookiecutter.json'} is not JSON: {e}") from None
    if not isinstance(variables, dict):
        raise click.ClickException(f"{template / 'cookiecutter.json'} is not a JSON object.")
    return variables


def _check_overrides(
    kind: str, variables: Mapping[str, Any], extra_context: Mapping[str, str], name_key: str
) -> dict[str, str]:
    """Refuse ``--set`` values the template would ignore or reject, naming the variable."""
    public = ", ".join(k for k in variables if not k.startswith("_"))
    for key, value in extra_context.items():
        if key == name_key:
            raise click.ClickException(
                f"--set {key}=...: give the {kind} name as the NAME argument instead."
            )
        if key not in variables or key.startswith("__"):
            raise click.ClickException(
                f"--set {key}=...: the {kind} template has no variable {key!r} "
                f"(its variables: {public})."
            )
        default = variables[key]
        if isinstance(default, list) and value not in default:
            choices = ", ".join(str(c) for c in default)
            raise click.ClickException(
                f"--set {key}={value}: invalid choice; choose one of {choices}."
            )
        if isinstance(default, bool) and value.strip().lower() not in _BOOLEAN_WORDS:
            raise click.ClickException(f"--set {key}={value}: expected yes or no.")
        if isinstance(default, dict):
            raise click.ClickException(f"--set {key}=...: a dictionary cannot be set here.")
    return dict(extra_context)


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


def _answers(context: dict[str, Any], no_input: bool) -> dict[str, Any]:
    from cookiecutter.prompt import prompt_for_config

    # prompt_for_config consumes parts of its argument (``__prompts__``).
    return dict(prompt_for_config(copy.deepcopy(context), no_input))


def _refuse_existing(kind: str, target: Path, force: bool) -> None:
    if not os.path.lexists(target):
        return
    if not target.is_dir():
        raise click.ClickException(f"{target} exists and is not a directory; remove it first.")
    if not force:
        raise click.ClickException(
            f"{target} already exists; pass --force to overwrite its {kind} files "
            "(other files are kept), or choose another name or --output-dir."
        )


def _first_missing(path: Path) -> Path | None:
    """The outermost directory of ``path`` that does not exist yet (None: all exist)."""
    missing = None
    for candidate in [path, *path.parents]:
        if candidate.exists():
            break
        missing = candidate
    return missing


def _generate(template: Path, context: dict[str, Any], staging: Path) -> Path:
    from cookiecutter.exceptions import (
        CookiecutterException,
        FailedHookException,
        UndefinedVariableInTemplate,
    )
    from cookiecutter.generate import generate_files

    # Cookiecutter logs a failed hook with its traceback; the error below says it all.
    quiet = logging.NullHandler()
    logger = logging.getLogger("cookiecutter")
    logger.addHandler(quiet)
    try:
        return Path(
            generate_files(
                repo_dir=str(template), context=context, output_dir=str(staging), accept_hooks=True
            )
        )
    except FailedHookException as e:
        raise click.ClickException(
            f"The template refused these options ({e}); its reason is printed above."
        ) from None
    except UndefinedVariableInTemplate as e:
        raise click.ClickException(f"{e.message}: {e.error.message}") from None
    except CookiecutterException as e:
        raise click.ClickException(f"Generation failed: {e}") from None
    except OSError as e:
        raise click.ClickException(f"Generation failed: {e}") from None
    finally:
        logger.removeHandler(quiet)


def _move_into_place(staged: Path, target: Path) -> None:
    if not os.path.lexists(target):
        os.replace(staged, target)
    elif target.is_dir():
        shutil.copytree(staged, target, dirs_exist_ok=True)
    else:
        raise click.ClickException(f"{target} exists and is not a directory; remove it first.")


def render(
    kind: str,
    name: str,
    *,
    output_dir: str | os.PathLike[str] = ".",
    extra_context: Mapping[str, str] | None = None,
    no_input: bool = False,
    force: bool = False,
) -> Path:
    """Generate a ``kind`` package named ``name`` in ``output_dir``; return its directory.

    Everything that can be checked is checked before the first prompt: the name, the
    ``--set`` values, an existing target. Generation happens in a staging directory inside
    ``output_dir``, moved into place once complete; with ``force``, the generated files
    overwrite those of an existing target and other files stay.

    :param kind: a directory of the templates (``project``, ``backend``, ``extension``).
    :param name: the value of the template's ``<kind>_name`` variable.
    :param output_dir: where the package directory goes (created if missing).
    :param extra_context: template variables to set (the ``--set key=value`` options).
    :param no_input: use the defaults instead of prompting.
    :param force: overwrite the files of an existing package directory.
    :raises click.ClickException: a bad name or option, an existing target without
        ``force``, or a failed generation (then nothing is left behind).
    """
    template = template_dir(kind)
    output = Path(os.path.abspath(output_dir))
    context = _context(template, kind, name, extra_context or {})
    # With the defaults first: refuse an existing target before asking anything.
    defaults = _answers(context, no_input=True)
    _refuse_existing(kind, output / _directory_name(template, defaults), force)
    answers = defaults if no_input else _answers(context, no_input=False)
    validate_name(kind, answers[f"{kind}_name"])
    if "package_name" in answers:
        _validate_package(kind, answers["package_name"])
    target = output / _directory_name(template, answers)
    _refuse_existing(kind, target, force)

    # What cookiecutter() itself puts in the context, for templates that use it.
    context["_cookiecutter"] = {k: v for k, v in defaults.items() if not k.startswith("_")}
    context["cookiecutter"] = {
        **answers,
        "_template": str(template),
        "_output_dir": str(output),
        "_repo_dir": str(template),
        "_checkout": None,
    }
    _write(template, context, target)
    return target


def _context(
    template: Path, kind: str, name: str, extra_context: Mapping[str, str]
) -> dict[str, Any]:
    """The template's variables with the name and the ``--set`` values, once checked."""
    from cookiecutter.generate import generate_context

    variables = _read_variables(template)
    name_key = f"{kind}_name"
    if name_key not in variables:
        raise click.ClickException(f"The {kind} template has no {name_key!r} variable.")
    validate_name(kind, name)
    overrides = _check_overrides(kind, variables, extra_context, name_key)
    overrides[name_key] = name
    if _PRINT_NEXT_STEPS in variables:
        overrides[_PRINT_NEXT_STEPS] = "no"
    if _CLIQUET_REQUIREMENT in variables:
        overrides[_CLIQUET_REQUIREMENT] = requirement()
    try:
        return dict(
            generate_context(
                context_file=str(template / "cookiecutter.json"), extra_context=overrides
            )
        )
    except ValueError as e:
        raise click.ClickException(str(e)) from None


def _write(template: Path, context: dict[str, Any], target: Path) -> None:
    """Generate in a staging directory beside ``target``, then move the result into place.

    On any failure, the staging directory goes, and so do the directories created for
    ``target``'s parent.
    """
    output = target.parent
    created = _first_missing(output)
    try:
        output.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise click.ClickException(f"Cannot create {output}: {e}") from None
    staging = Path(tempfile.mkdtemp(prefix=".cliquet-new-", dir=output))
    done = False
    try:
        staged = _generate(template, context, staging)
        _move_into_place(staged, target)
        done = True
    except OSError as e:
        raise click.ClickException(f"Cannot write {target}: {e}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        if not done and created is not None:
            shutil.rmtree(created, ignore_errors=True)


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
