"""A few hundred requests of the fuzzer (``tests/security/fuzz.py``) in the test suite."""

import logging

import pytest

from tests.security.fuzz import Generator, run

# Backend-specific throughout: every storage backend (docs/TESTING.md).
pytestmark = pytest.mark.backends("memory", "sqlite", "postgresql")


@pytest.mark.filterwarnings("ignore::webtest.lint.WSGIWarning")
@pytest.mark.parametrize("seed", [1, 2])
def test_fuzzed_requests_get_no_5xx_and_only_json(app, seed, caplog):
    caplog.set_level(logging.CRITICAL)
    report = run(app, Generator(seed), requests=150)
    assert not report.failed, report.summary("this", seed)
