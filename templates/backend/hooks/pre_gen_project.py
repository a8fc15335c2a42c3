"""Refuse a backend name that cannot become a Python package, before anything is written.

Cookiecutter turns the non-zero exit into ``FailedHookException``; the message goes to stderr.
"""

import importlib.util
import os
import re
import sys

NAME = "{{ cookiecutter.backend_name }}"
SLUG = "{{ cookiecutter.__slug }}"
PACKAGE = "{{ cookiecutter.package_name }}"
KIND = "{{ cookiecutter.kind }}"
KINDS = ("cache", "storage", "permission")

# A lower-case ASCII identifier: what PEP 8 wants of a package name, and safe on every OS.
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*\Z")


def fail(message: str) -> None:
    print(f"ERROR: {message}", file=sys.stderr)
    sys.exit(1)


def taken_by(package: str) -> str | None:
    """Where an importable module of that name lives, unless it is the one being regenerated."""
    spec = importlib.util.find_spec(package)
    if spec is None:
        return None
    where = spec.origin or next(iter(spec.submodule_search_locations or []), "")
    # The copy being regenerated (--force): in the target, or in the directory being written.
    target = os.path.join("{{ cookiecutter._output_dir }}", "{{ cookiecutter.distribution_name }}")
    for home in (os.path.realpath(target), os.path.realpath(os.getcwd())):
        if os.path.realpath(where).startswith(home + os.sep):
            return None
    return where


if not IDENTIFIER.match(SLUG):
    fail(
        f"Invalid backend name {NAME!r}: it must start with a letter and hold only letters, "
        "digits, '_' or '-' (it becomes the Python package cliquet_<name>)."
    )
if not IDENTIFIER.match(PACKAGE):
    fail(f"Invalid package name {PACKAGE!r}: it must be a lower-case Python identifier.")
if KIND not in KINDS:
    fail(f"Invalid kind {KIND!r}: choose one of {', '.join(KINDS)}.")
origin = taken_by(PACKAGE)
if origin:
    fail(f"The package name {PACKAGE!r} is already taken by {origin}; choose another name.")
