"""A template's variables: reading, checking, asking and describing them.

This is the one place where ``cliquet new`` judges a name or an option: the NAME argument, a
``--set key=value``, an answer typed at a prompt and a default derived from the name go
through the same checks, before anything is rendered (the templates have no validation hooks).
Every variable of ``cookiecutter.json`` that the command line fixed (NAME, ``--kind``,
``--set``) is never asked again; the others are asked in order, as the sentences of the
template's ``__prompts__``, with the recorded answer of a re-generated package as default.
"""

from __future__ import annotations

import importlib.util
import json
import keyword
import os
import re
import sys
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

__all__ = [
    "Variables",
    "check_answers",
    "check_name",
    "check_overrides",
    "describe",
    "problem",
    "read_variables",
    "resolve",
]

# A distribution name (PEP 508) that starts with a letter: also a portable directory name.
_DISTRIBUTION = re.compile(r"[A-Za-z]([A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
_NAME_RULE = (
    "use ASCII letters, digits, '-', '_' or '.', starting with a letter and ending with a "
    "letter or digit (e.g. my-service)"
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Names no import finds from here, yet taken where a generated package runs.
_TAKEN = {"tests": "the tests/ directory of every generated package"}
_TRUE_WORDS = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"0", "false", "f", "no", "n", "off"})
# Shown in --help for defaults derived from NAME.
_EXAMPLE_NAMES = ("my-name", "other-name")

Check = Callable[[str, Any], "str | None"]


@dataclass(frozen=True)
class Variables:
    """The variables of one template (its ``cookiecutter.json``), in their order."""

    kind: str
    raw: dict[str, Any]

    @property
    def name_key(self) -> str:
        """The variable the NAME argument sets (``project_name``...)."""
        return f"{self.kind}_name"

    def settable(self) -> list[str]:
        """What ``--set`` may set: the public variables but the name."""
        return [k for k in self.raw if not k.startswith("_") and k != self.name_key]

    def question(self, key: str) -> str:
        """The sentence asking for ``key`` (its ``__prompts__`` entry, else the key)."""
        prompt = self.raw.get("__prompts__", {}).get(key, key)
        if isinstance(prompt, dict):
            return str(prompt.get("__prompt__", key))
        return str(prompt)

    def choice_label(self, key: str, choice: str) -> str:
        prompt = self.raw.get("__prompts__", {}).get(key)
        return str(prompt.get(choice, choice)) if isinstance(prompt, dict) else choice


def read_variables(kind: str, template: Path) -> Variables:
    """The variables of the ``kind`` template in ``template``.

    :raises click.ClickException: ``cookiecutter.json`` is not a JSON object, or names no
        ``<kind>_name`` variable.
    """
    path = template / "cookiecutter.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as e:
        raise click.ClickException(f"{path} is not JSON: {e}") from None
    if not isinstance(raw, dict):
        raise click.ClickException(f"{path} is not a JSON object.")
    variables = Variables(kind, raw)
    if variables.name_key not in raw:
        raise click.ClickException(f"The {kind} template has no {variables.name_key!r} variable.")
    return variables


def _taken_by(package: str, home: Path | None) -> str | None:
    """What importing ``package`` finds already, unless it is the copy in ``home``."""
    if package in sys.stdlib_module_names:
        return "the standard library"
    if package in _TAKEN:
        return _TAKEN[package]
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    where = spec.origin or next(iter(spec.submodule_search_locations or []), None)
    if where in (None, "built-in", "frozen"):
        return "a built-in module"
    # A package re-generated (--force) after `pip install -e`: its own copy is no rival.
    if home is not None and Path(os.path.realpath(where)).is_relative_to(os.path.realpath(home)):
        return None
    return str(where)


# What a checked variable is called: by itself, and as what NAME becomes.
_NOUNS = {
    "package_name": ("package name", "Python package"),
    "distribution_name": ("distribution name", "distribution"),
}


def _fault(key: str, value: Any, home: Path | None) -> str | None:
    """What is wrong with ``value`` as ``key``, as a predicate ("is a Python keyword")."""
    if key == "package_name":
        if not isinstance(value, str) or not _IDENTIFIER.match(value):
            return (
                "is not a Python identifier (ASCII letters, digits and '_', not starting "
                "with a digit)"
            )
        if keyword.iskeyword(value):
            return "is a Python keyword"
        where = _taken_by(value, home)
        if where:
            return f"is already taken by {where} (importing it would shadow that module)"
    if key == "distribution_name" and not _DISTRIBUTION.match(str(value)):
        return f"is not valid: {_NAME_RULE}"
    return None


def problem(key: str, value: Any, *, home: Path | None = None) -> str | None:
    """Why ``value`` cannot be the ``key`` variable (None: it can), as a sentence.

    :param home: the package directory being re-generated, whose own modules do not count
        as taken.
    """
    fault = _fault(key, value, home)
    return f"{_NOUNS[key][0]} {value!r} {fault}" if fault else None


def check_name(kind: str, name: str) -> None:
    """Refuse a NAME argument that cannot name a package directory and distribution.

    :raises click.BadParameter: saying why, for the NAME argument (exit code 2).
    """
    if not _DISTRIBUTION.match(name):
        raise click.BadParameter(
            f"{name!r} cannot name a {kind}: {_NAME_RULE}.", param_hint="NAME"
        )


def _as_bool(key: str, value: str) -> bool:
    word = value.strip().lower()
    if word not in _TRUE_WORDS | _FALSE_WORDS:
        raise click.BadParameter(f"{key}={value}: expected yes or no.", param_hint="--set")
    return word in _TRUE_WORDS


def check_overrides(variables: Variables, overrides: Mapping[str, str]) -> dict[str, Any]:
    """The ``--set`` values, once each is known to the template and fits its kind.

    What a value names (a package that must not be taken...) is for :func:`check_answers`.

    :raises click.BadParameter: naming the ``--set`` option at fault (exit code 2).
    """
    checked: dict[str, Any] = {}
    for key, value in overrides.items():
        if key == variables.name_key:
            raise click.BadParameter(
                f"{key}=...: give the {variables.kind} name as the NAME argument instead.",
                param_hint="--set",
            )
        if key not in variables.settable():
            known = ", ".join(variables.settable())
            raise click.BadParameter(
                f"{key}=...: the {variables.kind} template has no variable {key!r} "
                f"(its variables: {known}).",
                param_hint="--set",
            )
        default = variables.raw[key]
        if isinstance(default, dict):
            raise click.BadParameter(
                f"{key}=...: a dictionary cannot be set here.", param_hint="--set"
            )
        if isinstance(default, list) and value not in default:
            choices = ", ".join(str(c) for c in default)
            raise click.BadParameter(
                f"{key}={value}: invalid choice; choose one of {choices}.", param_hint="--set"
            )
        checked[key] = _as_bool(key, value) if isinstance(default, bool) else value
    return checked


def _render(raw: Any, answers: Mapping[str, Any], template_variables: Mapping[str, Any]) -> Any:
    """A default as Cookiecutter computes it: Jinja over the answers so far."""
    from cookiecutter.environment import StrictEnvironment
    from jinja2 import TemplateError

    if isinstance(raw, bool) or raw is None:
        return raw
    if isinstance(raw, dict):
        return {k: _render(v, answers, template_variables) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_render(v, answers, template_variables) for v in raw]
    env = StrictEnvironment(context={"cookiecutter": dict(template_variables)})
    try:
        return env.from_string(str(raw)).render(cookiecutter=dict(answers))
    except TemplateError as e:
        raise click.ClickException(
            f"The template's default {raw!r} cannot be rendered: {e}"
        ) from None


def _ask(variables: Variables, key: str, default: Any, check: Check, number: str) -> Any:
    question = f"  [{number}] {variables.question(key)}"
    raw = variables.raw[key]

    def checked(value: Any) -> Any:
        reason = check(key, value)
        if reason:
            raise click.BadParameter(f"{reason}.")
        return value

    if isinstance(raw, bool):
        return click.confirm(question, default=bool(default))
    if isinstance(raw, list):
        choices = [str(c) for c in raw]
        lines = [f"    {i} - {variables.choice_label(key, c)}" for i, c in enumerate(choices, 1)]
        click.echo("\n".join([question, *lines]))

        def chosen(text: str) -> str:
            text = text.strip()
            if text in choices:
                return text
            if text.isdigit() and 1 <= int(text) <= len(choices):
                return choices[int(text) - 1]
            raise click.BadParameter(f"{text!r}: answer {numbers} or one of {', '.join(choices)}.")

        numbers = "/".join(str(i) for i in range(1, len(choices) + 1))
        index = choices.index(default) + 1 if default in choices else 1
        return click.prompt(f"    Choose from [{numbers}]", default=str(index), value_proc=chosen)
    return click.prompt(question, default=default, value_proc=checked)


def resolve(
    variables: Variables,
    fixed: Mapping[str, Any],
    recorded: Mapping[str, Any],
    *,
    ask: bool,
    check: Check | None = None,
    only: Collection[str] | None = None,
) -> dict[str, Any]:
    """Every variable's value, in the template's order: Cookiecutter's context, computed here.

    :param fixed: values given on the command line, never asked.
    :param recorded: the answers a package was generated with, defaults for the others.
    :param ask: prompt for each variable neither fixed nor private; else take the defaults.
    :param check: judges each typed answer (see :func:`problem`); a refused one is asked again.
    :param only: with ``ask``, prompt for these variables alone (``cliquet update``: those
        the recorded answers lack); the others take their recorded value or default.
    """
    answers: dict[str, Any] = {}
    visible = [
        k
        for k, raw in variables.raw.items()
        if not k.startswith("_")
        and k not in fixed
        and not isinstance(raw, dict)
        and (only is None or k in only)
    ]
    asked = 0
    for key, raw in variables.raw.items():
        if key == "__prompts__":
            continue
        if key in fixed:
            answers[key] = fixed[key]
        elif key.startswith("__"):
            answers[key] = _render(raw, answers, variables.raw)
        elif key.startswith("_"):
            answers[key] = raw
        elif isinstance(raw, dict):
            answers[key] = recorded.get(key, _render(raw, answers, variables.raw))
        else:
            default = _render(raw, answers, variables.raw)
            if key in recorded and (not isinstance(raw, list) or recorded[key] in default):
                default = recorded[key]
            elif isinstance(default, list):
                default = default[0]
            if ask and key in visible:
                asked += 1
                number = f"{asked}/{len(visible)}"
                default = _ask(variables, key, default, check or problem, number)
            answers[key] = default
    return answers


def check_answers(
    variables: Variables,
    answers: Mapping[str, Any],
    fixed: Mapping[str, Any],
    *,
    home: Path | None,
) -> None:
    """Refuse final answers that cannot be generated, naming where each came from.

    A value derived from NAME (``json`` -> package ``json``) is a fault of NAME.

    :raises click.BadParameter: exit code 2.
    """
    name = answers[variables.name_key]
    for key in variables.settable():
        value = answers.get(key)
        fault = _fault(key, value, home)
        if not fault:
            continue
        if key in fixed:
            raise click.BadParameter(f"{_NOUNS[key][0]} {value!r} {fault}.", param_hint="--set")
        raise click.BadParameter(
            f"{name!r} becomes the {_NOUNS[key][1]} {value!r}, which {fault}; choose another "
            "name.",
            param_hint="NAME",
        )


def describe(variables: Variables) -> list[tuple[str, str]]:
    """``(key, help)`` of each ``--set`` variable: its question, default and choices."""
    rows = []
    for key in variables.settable():
        raw = variables.raw[key]
        text = variables.question(key)
        if isinstance(raw, list):
            choices = ", ".join(str(c) for c in raw)
            rows.append((key, f"{text} [one of {choices}; default: {raw[0]}]"))
        elif isinstance(raw, bool):
            rows.append((key, f"{text} [yes or no; default: {'yes' if raw else 'no'}]"))
        elif isinstance(raw, str):
            first, second = (
                resolve(variables, {variables.name_key: name}, {}, ask=False)[key]
                for name in _EXAMPLE_NAMES
            )
            if first != second:
                default = f"derived from NAME, e.g. {first} for NAME {_EXAMPLE_NAMES[0]}"
            else:
                default = first
            rows.append((key, f"{text} [default: {default}]"))
    return rows
