"""``.cliquet.json``: what a generated package was generated from, and what was written.

Every ``cliquet new`` records, at the root of the package it writes, the template's kind, the
cliquet version that rendered it, the answers (public variables only: never a secret) and a
content hash of each file written. Re-generation reads it back: the answers become the
defaults, and a file whose hash differs from the recorded one was edited since. The file is
meant to be committed with the package.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import click

__all__ = [
    "BASE",
    "FILENAME",
    "RECORDS",
    "Provenance",
    "digest",
    "digest_bytes",
    "digests",
    "files_under",
    "read",
    "write",
]

FILENAME = ".cliquet.json"
# The pristine render the record describes (cliquet_cli.base): the base of `cliquet update`.
BASE = ".cliquet/base.tar.gz"
# What cliquet writes about a package, never one of its files.
RECORDS = (FILENAME, BASE)
# Bumped when the layout below changes, so that a later cliquet can read older records.
FORMAT = 1
# Never part of a package's own files: tools' caches and virtualenvs.
_SKIPPED_DIRECTORIES = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
        ".mypy_cache",
        ".cliquet",
    }
)


@dataclass(frozen=True)
class Provenance:
    """The record of one generation."""

    template: str
    cliquet_version: str
    answers: dict[str, Any]
    files: dict[str, str] = field(default_factory=dict)
    format: int = FORMAT
    # Packages generated inside this one (`cliquet add`), as POSIX paths relative to it: each
    # has its own record, and `cliquet update` updates it too.
    parts: list[str] = field(default_factory=list)


def digest(path: Path) -> str:
    """The content hash recorded for a file: ``sha256:<hex>`` of its bytes."""
    return digest_bytes(path.read_bytes())


def digest_bytes(data: bytes) -> str:
    """:func:`digest` of a file's content."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def files_under(directory: Path) -> Iterator[str]:
    """The files of a package directory, as POSIX paths relative to it, sorted.

    Leaves out the record itself, version-control and cache directories, virtualenvs and
    ``*.egg-info``: what tools make, never what the user or a template writes; and the
    packages generated inside it (``cliquet add``), which have records of their own.
    """
    nested = {p.parent for p in directory.glob(f"*/**/{FILENAME}")}
    for path in sorted(directory.rglob("*")):
        parts = path.relative_to(directory).parts
        if any(p in _SKIPPED_DIRECTORIES or p.endswith(".egg-info") for p in parts[:-1]):
            continue
        if any(path.is_relative_to(n) for n in nested):
            continue
        if path.is_file() and parts != (FILENAME,):
            yield path.relative_to(directory).as_posix()


def digests(directory: Path) -> dict[str, str]:
    """The hash of every file of a freshly rendered package directory."""
    return {name: digest(directory / name) for name in files_under(directory)}


def read(directory: Path) -> Provenance | None:
    """The record of ``directory`` (None: it has none).

    :raises click.ClickException: a record cliquet cannot read, naming the file.
    """
    path = directory / FILENAME
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        record = Provenance(
            template=_typed(data["template"], str),
            cliquet_version=_typed(data["cliquet_version"], str),
            answers={
                _typed(k, str): _typed(v, (str, bool, int, float))
                for k, v in _typed(data["answers"], dict).items()
            },
            files={
                _inside(_typed(k, str)): _typed(v, str)
                for k, v in _typed(data["files"], dict).items()
            },
            format=_typed(data.get("format", FORMAT), int),
            parts=[_part(directory, _typed(p, str)) for p in _typed(data.get("parts", []), list)],
        )
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise click.ClickException(
            f"{path} is not a record cliquet can read ({type(e).__name__}: {e}); restore it "
            "from version control, or remove it (every file that differs from the template "
            "then counts as edited)."
        ) from None
    if record.format > FORMAT:
        raise click.ClickException(
            f"{path} was written by a newer cliquet (format {record.format}); upgrade cliquet."
        )
    return record


def _typed(value: Any, kind: type | tuple[type, ...]) -> Any:
    """``value``, if of JSON type ``kind``: a record from a clone may hold anything."""
    if not isinstance(value, kind):
        raise TypeError(f"{value!r} where {getattr(kind, '__name__', 'a scalar')} was expected")
    return value


def _inside(name: str) -> str:
    """``name``, if a path strictly inside the package (POSIX, relative, no ``..``)."""
    if name.startswith("/") or "\\" in name or {"", ".", ".."} & set(name.split("/")):
        raise ValueError(f"{name!r} is not a path inside the package")
    return name


def _part(directory: Path, name: str) -> str:
    """``name``, if a directory strictly inside ``directory`` once symbolic links are followed.

    ``cliquet update`` writes into each part: a part elsewhere would be written elsewhere.
    """
    _inside(name)
    root, resolved = directory.resolve(), (directory / name).resolve()
    if resolved == root or not resolved.is_relative_to(root):
        raise ValueError(f"the part {name!r} is not inside the package")
    return name


def write(directory: Path, record: Provenance) -> None:
    """Write ``record`` as ``directory``'s ``.cliquet.json`` (stable order, for diffs)."""
    text = json.dumps(asdict(record), indent=2, sort_keys=True, ensure_ascii=False)
    (directory / FILENAME).write_text(text + "\n", encoding="utf-8")
