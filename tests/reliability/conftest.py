"""The reliability suites: fuzz, races, faults and memory, against services in processes of
their own (``processes.py``). Run by ``.ci/run`` after the suite:
``python -m pytest tests/reliability`` (or ``--reliability`` with other paths); the plain
``python -m pytest`` leaves them out (tests/conftest.py). Each test reports its figures with
the ``figures`` fixture; they are printed at the end of the run (tests/conftest.py).
"""
