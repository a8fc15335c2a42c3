"""Re-generation into an existing package directory (``cliquet new ... --force``).

A fresh render, made elsewhere, is compared file by file with the directory, using the
directory's ``.cliquet.json`` (:mod:`cliquet_cli.provenance`) to tell a file the user edited
from one cliquet wrote: identical files are left alone, missing ones written, unedited ones
replaced. A file that was edited since it was generated, or that no record vouches for, is
replaced only when asked (``--overwrite-edited``); otherwise nothing at all is written. Files
that are not the template's are never touched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click

from cliquet_cli import provenance
from cliquet_cli.provenance import Provenance

__all__ = ["Plan", "apply", "plan"]


@dataclass
class Plan:
    """What re-generating ``target`` from ``staged`` does, file by file (POSIX paths)."""

    staged: Path
    target: Path
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    edited: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    # In the directory, not in the render: the user's files, and those the template dropped.
    others: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def to_write(self, *, overwrite_edited: bool) -> list[str]:
        return self.created + self.updated + (self.edited if overwrite_edited else [])


def plan(staged: Path, target: Path, record: Provenance | None) -> Plan:
    """Compare the render in ``staged`` with the package directory ``target``.

    :param record: ``target``'s record (None: no file of it counts as unedited).
    :raises click.ClickException: a path the template writes a file to is a directory, or
        the other way round, or a symbolic link (to a file or, on the way, to a directory).
    """
    result = Plan(staged, target)
    recorded = record.files if record is not None else {}
    rendered = set(provenance.files_under(staged))
    for name in sorted(rendered):
        path = target / name
        linked = next(
            (p for p in path.parents if p.is_relative_to(target) and p.is_symlink()), None
        )
        if linked is not None and linked != target:
            # Written through, the link would take the template's files out of the package.
            raise click.ClickException(
                f"{linked} is a symbolic link; the template writes a directory there. Nothing "
                "was written."
            )
        if not os.path.lexists(path):
            blocking = next((p for p in path.parents if p.is_file()), None)
            if blocking is not None and blocking.is_relative_to(target):
                raise click.ClickException(
                    f"{blocking} is a file; the template writes a directory there. Nothing "
                    "was written."
                )
            result.created.append(name)
        elif path.is_dir() or path.is_symlink():
            raise click.ClickException(
                f"{path} is a {'directory' if path.is_dir() else 'symbolic link'}; the "
                "template writes a file there. Nothing was written."
            )
        elif path.read_bytes() == (staged / name).read_bytes():
            result.unchanged.append(name)
        elif recorded.get(name) == provenance.digest(path):
            result.updated.append(name)
        else:
            result.edited.append(name)
    for name in provenance.files_under(target):
        if name not in rendered:
            (result.dropped if name in recorded else result.others).append(name)
    return result


def _replace_all(copies: list[tuple[Path, Path]], saved: list[Path]) -> None:
    """Rename each copy onto its destination; if one fails (or Ctrl-C), undo those done.

    Each replaced file is first kept as a hard link beside it (listed in ``saved``, for the
    caller to remove), so that the package is left with all its new files or all its old
    ones, never a mix of versions.
    """
    done: list[tuple[Path, Path | None]] = []
    try:
        for copy, destination in copies:
            old = None
            if destination.is_file():
                old = destination.with_name(f".{destination.name}.cliquet-old")
                old.unlink(missing_ok=True)
                try:
                    os.link(destination, old)
                except OSError:  # a file system without hard links
                    shutil.copy2(destination, old)
                saved.append(old)
            os.replace(copy, destination)
            done.append((destination, old))
    except BaseException:
        for destination, old in reversed(done):
            if old is None:
                destination.unlink(missing_ok=True)  # new: undone by removing it
            else:
                os.rename(old, destination)
        raise


def apply(
    steps: Plan,
    *,
    overwrite_edited: bool,
    shown: str | None = None,
    remove: Sequence[str] = (),
) -> list[str]:
    """Write what ``steps`` says, then the new record; return the files written.

    Every new file is first copied beside its destination, then all are renamed into place:
    a failure while copying (disk full...) or renaming (even an interrupt) leaves the
    directory as it was. A replaced file keeps its mode.

    :param shown: how to name the directory to the user (default: its path).
    :param remove: files to delete once the others are in place (``cliquet update``: those
        the template no longer renders, unedited).
    :raises click.ClickException: edited files without ``overwrite_edited`` (nothing is
        written), or a write that failed.
    """
    if steps.edited and not overwrite_edited:
        edited = ", ".join(steps.edited)
        raise click.ClickException(
            f"{shown or steps.target} has files edited since they were generated: {edited}. "
            "Nothing was written: pass --overwrite-edited to replace them with the template's "
            "(the edits are lost), or generate elsewhere (-o) and merge by hand."
        )
    names = steps.to_write(overwrite_edited=overwrite_edited)
    for name in provenance.RECORDS:
        old, new = steps.target / name, steps.staged / name
        if new.is_file() and (not old.is_file() or old.read_bytes() != new.read_bytes()):
            names = [*names, name]
    copies: list[tuple[Path, Path]] = []
    saved: list[Path] = []
    try:
        for name in names:
            destination = steps.target / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            copy = destination.with_name(f".{destination.name}.cliquet-new")
            shutil.copy2(steps.staged / name, copy)
            if destination.is_file():  # its mode is the user's (chmod +x, read-only)
                shutil.copymode(destination, copy)
            copies.append((copy, destination))
        _replace_all(copies, saved)
        for name in remove:
            (steps.target / name).unlink(missing_ok=True)
    except OSError as e:
        raise click.ClickException(f"Cannot write {steps.target}: {e}") from None
    finally:
        for copy, _ in copies:
            if copy.exists():
                copy.unlink()
        for old in saved:
            old.unlink(missing_ok=True)
    return [n for n in names if n not in provenance.RECORDS]
