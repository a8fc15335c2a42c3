"""Fuzz the resource test service in-process: ``python benchmarks/fuzz.py [--backend B]
[--requests N] [--seconds S] [--seed N]``.

The fuzzer itself is ``tests/security/fuzz.py`` (shared with the security suite's bounded
run); this script puts the repository on the path and runs it. It prints the requests sent,
the status histogram, the 5xx and non-JSON counts with the first reproducers, and exits 1 if
any answer was a 5xx or not JSON.
"""

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from tests.security.fuzz import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
