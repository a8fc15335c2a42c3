"""The pristine render of a package, kept in it: the base of ``cliquet update``'s merges.

A three-way merge needs what the recorded cliquet version rendered. Two ways were open:
re-render that version's template, shipped in every later distribution, or keep the render
itself. The render is kept, as ``.cliquet/base.tar.gz`` beside ``.cliquet.json``, because
re-rendering cannot be trusted to give the same bytes: a development version
(``0.1.0.dev0``) changes its templates without changing its number, a hook or a Cookiecutter
release may render differently, and random values (the secret) come out anew. A few
kilobytes, written deterministically (sorted, no dates), so that the same render gives the
same archive and version control sees no change. Its files' hashes are those of
``.cliquet.json``: a base that does not match them is not used.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib
from pathlib import Path

from cliquet_cli import provenance

__all__ = ["read", "write"]

# Far above any render (a few kilobytes): past it, an archive is not a render cliquet wrote.
_MAX_BYTES = 16 * 1024 * 1024


def write(directory: Path, names: list[str]) -> None:
    """Store the files ``names`` of the fresh render ``directory`` as its base."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in sorted(names):
            data = (directory / name).read_bytes()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(data))
    path = directory / provenance.BASE
    path.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 and no file name in the gzip header: the same render, the same bytes.
    with open(path, "wb") as raw, gzip.GzipFile("", "wb", fileobj=raw, mtime=0) as zipped:
        zipped.write(buffer.getvalue())


def read(directory: Path, record: provenance.Provenance | None) -> dict[str, bytes]:
    """The base of ``directory``: each file as rendered, when its hash is ``record``'s.

    A file missing from the archive (a package generated before cliquet kept one, or an
    archive damaged or edited) is missing from the result: its merge has no base. Nothing
    of the archive is ever extracted to disk; only regular members the record names (and
    hashes) are read, and an archive larger than a render could be is not read at all.
    """
    path = directory / provenance.BASE
    if record is None or not path.is_file():
        return {}
    files: dict[str, bytes] = {}
    left = _MAX_BYTES
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            # Lazily, member by member: an archive that inflates past the bound (a "zip
            # bomb" in a clone) is dropped before it is read, let alone held in memory.
            for member in archive:
                if not member.isreg() or member.name not in record.files:
                    continue  # links, devices, names the record does not vouch for
                left -= member.size
                extracted = archive.extractfile(member) if left >= 0 else None
                if extracted is None:
                    return {}
                files[member.name] = extracted.read(member.size)
    except (OSError, tarfile.TarError, EOFError, zlib.error):
        return {}
    return {
        name: data
        for name, data in files.items()
        if record.files.get(name) == provenance.digest_bytes(data)
    }
