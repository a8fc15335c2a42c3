"""Refuse names that cannot become a project, before anything is written.

Cookiecutter turns the non-zero exit into ``FailedHookException``; the reason goes to stderr.
"""

import keyword
import re
import sys

PROJECT_NAME = {{ cookiecutter.project_name|tojson }}
PACKAGE_NAME = {{ cookiecutter.package_name|tojson }}
PRODUCTION_CACHE = {{ cookiecutter.production_cache|tojson }}

# A distribution name (PEP 508), also used as the directory name.
DISTRIBUTION = re.compile(r"[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?\Z")
# An ASCII Python identifier.
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
# Importing the service's package must not shadow these (nor the standard library).
TAKEN = {"cliquet", "cliquet_cli", "cliquet_templates", "colander", "cornice", "pyramid", "tests"}


def fail(message):
    print(f"ERROR: {message}", file=sys.stderr)
    sys.exit(1)


if not DISTRIBUTION.match(PROJECT_NAME):
    fail(
        f"Invalid project name {PROJECT_NAME!r}: use letters, digits, '-', '_' or '.', "
        "starting and ending with a letter or digit (e.g. my-service)."
    )
if not IDENTIFIER.match(PACKAGE_NAME) or keyword.iskeyword(PACKAGE_NAME):
    fail(
        f"Invalid package name {PACKAGE_NAME!r}: it must be a Python identifier "
        "(letters, digits and '_', not starting with a digit, not a keyword)."
    )
if PACKAGE_NAME in TAKEN or PACKAGE_NAME in sys.stdlib_module_names:
    fail(f"The package name {PACKAGE_NAME!r} is already taken by another module; choose another.")
if PRODUCTION_CACHE not in ("redis", "postgresql"):
    fail(f"Invalid production_cache {PRODUCTION_CACHE!r}: choose redis or postgresql.")
