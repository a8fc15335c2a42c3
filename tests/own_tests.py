"""Running a generated package's own tests, as its author would, in a process of their own."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def own_tests_environment(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without the suite's settings (``CLIQUET_*``) nor its pytest plugins.

    The generated packages' tests need pytest and what they import, nothing else. This
    environment also holds the plugins of cliquet's dev extras (schemathesis, hypothesis,
    pytest-benchmark...), which pytest would load in every run: 0.8 s of CPU each (2.3 s
    where nothing is compiled yet), as much as the tests of a backend take. Their author's
    environment would not have them either.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIQUET_")}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    env.update(extra or {})
    return env


def run_own_tests(
    directory: Path, env: Mapping[str, str] | None = None, *args: str
) -> subprocess.CompletedProcess[str]:
    """``python -m pytest -q`` in ``directory`` (``env``: variables added, e.g. PYTHONPATH)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=directory,
        env=own_tests_environment(env),
        capture_output=True,
        text=True,
        timeout=300,
    )
