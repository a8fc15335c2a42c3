"""Merge a fresh render into a package three ways (``cliquet update``).

Base: what the recorded cliquet rendered (:mod:`cliquet_cli.base`); theirs: the render of the
installed cliquet, with the recorded answers; mine: the package as it is. Files are first
sorted by :func:`cliquet_cli.regeneration.plan`, the rule ``cliquet new --force`` follows too:
a file unedited since generation follows the template; one the user edited is never
replaced. Here it is merged instead of refused: kept when the template did not change it, else
merged line by line as ``git merge-file`` does (git itself, when on PATH), with conflict
markers where both sides changed the same lines. A file the template no longer renders goes
only if unedited; one the user deleted stays deleted.
"""

from __future__ import annotations

import difflib
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cliquet_cli import provenance, regeneration
from cliquet_cli.provenance import Provenance

__all__ = ["Merge", "apply", "diff", "merge_file", "plan", "unresolved"]

_LABELS = ("yours", "cliquet (as generated)", "cliquet (now)")


@dataclass
class Merge:
    """What updating ``steps.target`` from ``steps.staged`` does, file by file."""

    steps: regeneration.Plan
    merger: str
    # Final content of every file to write, POSIX path -> bytes.
    contents: dict[str, bytes] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    followed: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    kept_dropped: list[str] = field(default_factory=list)
    # Changed on both sides and binary: yours is kept, the template's is in the new base.
    binary: list[str] = field(default_factory=list)

    @property
    def changes(self) -> bool:
        """Whether anything but the record would change."""
        return bool(self.contents or self.removed)


def merge_file(mine: bytes, base: bytes | None, theirs: bytes) -> tuple[bytes, bool]:
    """``mine`` and ``theirs`` merged over ``base``; and whether it is clean.

    Through ``git merge-file -p`` when git is on PATH. Without git, or without a base, the
    whole file is one conflict (both sides between markers) unless the sides agree. A
    binary side (a NUL byte) makes a conflict without markers: ``mine`` unchanged.
    """
    if mine == theirs:
        return mine, True
    if any(b"\0" in side for side in (mine, base or b"", theirs)):
        return mine, False  # markers in a binary file would only break it: yours is kept
    git = shutil.which("git")
    if git is None or base is None:
        return _whole_file_conflict(mine, theirs), False
    with tempfile.TemporaryDirectory(prefix="cliquet-merge-") as scratch:
        paths = []
        for name, data in zip(("mine", "base", "theirs"), (mine, base, theirs), strict=True):
            path = Path(scratch) / name
            path.write_bytes(data)
            paths.append(str(path))
        labels = [arg for label in _LABELS for arg in ("-L", label)]
        result = subprocess.run(
            [git, "merge-file", "-p", *labels, *paths], capture_output=True, check=False
        )
    # The exit status is the number of conflicts; negative (>127 here) is git's own error.
    if result.returncode < 0 or result.returncode > 127:
        return _whole_file_conflict(mine, theirs), False
    return result.stdout, result.returncode == 0


def _whole_file_conflict(mine: bytes, theirs: bytes) -> bytes:
    def ended(data: bytes) -> bytes:
        return data if not data or data.endswith(b"\n") else data + b"\n"

    return b"".join(
        [
            f"<<<<<<< {_LABELS[0]}\n".encode(),
            ended(mine),
            b"=======\n",
            ended(theirs),
            f">>>>>>> {_LABELS[2]}\n".encode(),
        ]
    )


def unresolved(target: Path, record: Provenance) -> list[str]:
    """The files of ``target`` that still hold conflict markers an update wrote.

    Only files that differ from ``record`` (a conflict is never what the template rendered)
    and that hold a whole conflict with cliquet's own labels: a file quoting git's markers
    is the user's.
    """
    first, last = (f"<<<<<<< {_LABELS[0]}".encode(), f">>>>>>> {_LABELS[2]}".encode())
    found = []
    for name, recorded in record.files.items():
        path = target / name
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        if first not in data or _digest(data) == recorded:
            continue
        lines = data.splitlines()
        start = lines.index(first) if first in lines else -1
        if start >= 0 and b"=======" in lines[start:] and last in lines[start:]:
            found.append(name)
    return found


def plan(staged: Path, target: Path, record: Provenance | None, base: dict[str, bytes]) -> Merge:
    """Decide, without writing, what each file of ``target`` becomes.

    :param base: the files as the recorded version rendered them (may lack some, or all:
        such an edited file's merge has no base and is one conflict).
    """
    steps = regeneration.plan(staged, target, record)
    result = Merge(steps, "git merge-file" if shutil.which("git") else "whole-file markers")
    recorded = record.files if record is not None else {}
    for name in steps.created:
        if name in base:  # rendered before, deleted by the user since
            result.left_out.append(name)
        else:
            result.created.append(name)
            result.contents[name] = (staged / name).read_bytes()
    for name in steps.updated:
        result.followed.append(name)
        result.contents[name] = (staged / name).read_bytes()
    for name in steps.edited:
        _merge_edited(result, name, base.get(name), recorded.get(name))
    for name in steps.dropped:
        data = (target / name).read_bytes()
        unedited = recorded.get(name) in (_digest(data), _digest(_lf(data)))
        (result.removed if unedited else result.kept_dropped).append(name)
    return result


def _lf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n")


def _digest(data: bytes) -> str:
    return provenance.digest_bytes(data)


def _merge_edited(result: Merge, name: str, was: bytes | None, recorded: str | None) -> None:
    """Decide what the file ``name``, which differs from its record, becomes.

    A file checked out with CRLF line ends (git's ``core.autocrlf`` on Windows) is compared
    and merged as the LF text the template renders, and written back with CRLF: otherwise
    every line of it would differ, and it would be one conflict. The template's side is
    unchanged when it renders what the record hashed, whether the base is at hand or not.
    """
    steps = result.steps
    mine, theirs = (steps.target / name).read_bytes(), (steps.staged / name).read_bytes()
    # Every line end CRLF in the package, none in the render.
    crlf = b"\r\n" in mine and b"\n" not in mine.replace(b"\r\n", b"") and b"\r\n" not in theirs
    text = _lf(mine) if crlf else mine

    def write(data: bytes) -> None:
        data = data.replace(b"\n", b"\r\n") if crlf else data
        if data != mine:
            result.contents[name] = data

    if text == theirs:
        write(theirs)
    elif crlf and recorded == _digest(text):  # unedited but for its line ends
        result.followed.append(name)
        write(theirs)
    elif was == theirs or (recorded is not None and recorded == _digest(theirs)):
        result.kept.append(name)
    else:
        merged, clean = merge_file(text, was, theirs)
        if not clean and merged == text and b"\0" in merged + theirs + (was or b""):
            result.binary.append(name)
            return
        (result.merged if clean else result.conflicts).append(name)
        write(merged)


def apply(merge: Merge, *, shown: str) -> list[str]:
    """Write ``merge`` into its target (with the new record and base); return what was written.

    Written as :func:`cliquet_cli.regeneration.apply` writes: all files in place, or none.
    """
    steps = merge.steps
    for name, data in merge.contents.items():
        (steps.staged / name).write_bytes(data)
    writes = regeneration.Plan(
        steps.staged,
        steps.target,
        created=[n for n in merge.contents if n in merge.created],
        updated=[n for n in merge.contents if n not in merge.created],
    )
    return regeneration.apply(writes, overwrite_edited=False, shown=shown, remove=merge.removed)


def diff(merge: Merge) -> str:
    """The unified diff from the package as it is to what :func:`apply` would make of it."""
    chunks: list[str] = []
    target = merge.steps.target
    for name in sorted([*merge.contents, *merge.removed]):
        before = (target / name).read_bytes() if (target / name).is_file() else b""
        after = merge.contents.get(name, b"")
        chunks.extend(
            difflib.unified_diff(
                before.decode("utf-8", "replace").splitlines(keepends=True),
                after.decode("utf-8", "replace").splitlines(keepends=True),
                fromfile=f"a/{name}" if before or name not in merge.created else "/dev/null",
                tofile="/dev/null" if name in merge.removed else f"b/{name}",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n" for line in chunks)
