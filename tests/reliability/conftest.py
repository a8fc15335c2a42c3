"""The reliability suites: fuzz, races, faults and memory, against services in processes of
their own (``processes.py``). Run by ``.ci/run`` after the suite:
``python -m pytest tests/reliability`` (or ``--reliability`` with other paths); the plain
``python -m pytest`` leaves them out (tests/conftest.py). Each test reports its figures with
the ``figures`` fixture; they are printed at the end of the run (tests/conftest.py).
"""


def pytest_configure(config):
    # Declared by tests/security/conftest.py, whose lists and helpers the hostile-HTTP suite
    # imports (tests/security/test_raw_http.py carries it) when run without tests/security.
    config.addinivalue_line(
        "markers", "served: serves the test service with pserve and talks raw HTTP to it"
    )
