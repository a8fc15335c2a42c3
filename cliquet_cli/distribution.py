"""The distribution that installs cliquet, and what generated packages require of it.

The package index's ``cliquet`` is an unrelated project (3.1.5, 2016): this one is published
as ``cliquet-kit``, while the import package and the command keep the name ``cliquet``.
Everything that looks the distribution up by name (``cliquet --version``, the requirement
rendered into generated packages) goes through :data:`DISTRIBUTION`.
"""

from __future__ import annotations

from importlib.metadata import version

from packaging.version import InvalidVersion, Version

__all__ = ["DISTRIBUTION", "installed_version", "requirement"]

DISTRIBUTION = "cliquet-kit"


def installed_version() -> str:
    """The version of ``cliquet-kit`` installed in this environment."""
    return version(DISTRIBUTION)


def requirement(installed: str | None = None) -> str:
    """``cliquet-kit>=INSTALLED,<NEXT_MINOR``: what a generated package depends on.

    The lower bound is the installed version itself, so that a development version
    (``0.1.0.dev0``) is admitted: PEP 440 lets a specifier that names a pre-release accept
    pre-releases, and ``>=0.1.0`` would not. The upper bound excludes the next minor release
    and its pre-releases, which may change the contracts a generated package builds on.

    :param installed: a PEP 440 version (default: the installed one); its local part
        (``+g1234``), which specifiers may not hold, is dropped.
    :raises ValueError: ``installed`` is not a PEP 440 version.
    """
    text = installed_version() if installed is None else installed
    try:
        parsed = Version(text)
    except InvalidVersion:
        raise ValueError(f"{text!r} is not a PEP 440 version") from None
    major, minor = (*parsed.release, 0)[:2]
    epoch = f"{parsed.epoch}!" if parsed.epoch else ""
    return f"{DISTRIBUTION}>={parsed.public},<{epoch}{major}.{minor + 1}"
