"""Plug a package generated inside a service into it (``cliquet add``), by small text edits.

Each function takes a file's text and returns it edited, leaving every other line (comments
included) as it was, so that the edit merges on a later ``cliquet update``. A file that does
not have the expected shape is refused with a sentence, before anything is written.
"""

from __future__ import annotations

import re

import click

__all__ = ["with_dependency", "with_include", "with_pythonpath", "with_setting"]

_SECTION = re.compile(r"^\[(?P<name>[^\]]+)\]\s*$")


def _toml_list(text: str, key: str, item: str) -> str:
    """``text`` with the TOML string ``item`` appended to the list ``key = [...]``.

    Read with a pattern, not a TOML parser (none in the standard library of Python 3.10),
    so that comments and layout stay: the list must not hold a ``]`` of its own.
    """
    match = re.search(rf"^{re.escape(key)}\s*=\s*\[(?P<body>[^\]]*)\]", text, re.MULTILINE)
    if match is None:
        raise click.ClickException(f"pyproject.toml has no `{key} = [...]` list to add {item} to.")
    body = match.group("body")
    if re.search(
        rf"^\s*{re.escape(item)}\s*,?\s*(#.*)?$|[\[,]\s*{re.escape(item)}", f"[{body}", re.M
    ):
        return text
    if "\n" in body:  # one item a line: a line of its own, before the bracket
        if not body.endswith("\n"):
            raise click.ClickException(
                f"pyproject.toml: cannot add {item} to `{key}`; add it by hand."
            )
        end = match.end("body")
        return text[:end] + f"    {item},\n" + text[end:]
    items = body.strip().rstrip(",")
    joined = f"{items}, {item}" if items else item
    return text[: match.start("body")] + joined + text[match.end("body") :]


def with_dependency(pyproject: str, distribution: str) -> str:
    """``pyproject`` with ``distribution`` in its ``dependencies``."""
    return _toml_list(pyproject, "dependencies", f'"{distribution}"')


def with_pythonpath(pyproject: str, directory: str) -> str:
    """``pyproject`` with ``directory`` on pytest's ``pythonpath``: tests run before install.

    Unchanged when it sets no ``pythonpath``.
    """
    if not re.search(r"^pythonpath\s*=", pyproject, re.MULTILINE):
        return pyproject
    return _toml_list(pyproject, "pythonpath", f'"{directory}"')


def _section_lines(lines: list[str], section: str) -> tuple[int, int]:
    """The indices of ``[section]``'s first and past-last lines (past its last setting)."""
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{section}]"), None)
    if start is None:
        raise click.ClickException(f"development.ini has no [{section}] section.")
    end = next((i for i in range(start + 1, len(lines)) if _SECTION.match(lines[i])), len(lines))
    while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].startswith("#")):
        end -= 1
    return start, end


def _setting_at(lines: list[str], start: int, end: int, key: str) -> tuple[int, int] | None:
    """The first and past-last lines of ``key``'s value (continuation lines included)."""
    pattern = re.compile(rf"^{re.escape(key)}\s*=")
    for i in range(start + 1, end):
        if pattern.match(lines[i]):
            last = i + 1
            while last < end and lines[last][:1] in (" ", "\t") and lines[last].strip():
                last += 1
            return i, last
    return None


def with_setting(ini: str, key: str, value: str, *, section: str = "app:main") -> str:
    """``ini`` with ``key = value`` in ``[section]``: replacing its value, or added last."""
    lines = ini.splitlines(keepends=True)
    start, end = _section_lines(lines, section)
    found = _setting_at(lines, start, end, key)
    new = [f"{key} = {value}\n"]
    if found is None:
        lines[end:end] = new
    else:
        lines[found[0] : found[1]] = new
    return "".join(lines)


def with_include(ini: str, package: str, *, section: str = "app:main") -> str:
    """``ini`` with ``package`` appended to ``cliquet.includes`` (added if missing)."""
    lines = ini.splitlines(keepends=True)
    start, end = _section_lines(lines, section)
    found = _setting_at(lines, start, end, "cliquet.includes")
    if found is None:
        return with_setting(ini, "cliquet.includes", package, section=section)
    first, last = found
    value = "".join(lines[first:last]).split("=", 1)[1]
    if package in value.split():
        return ini
    lines[last - 1] = lines[last - 1].rstrip("\r\n") + f" {package}\n"
    return "".join(lines)
