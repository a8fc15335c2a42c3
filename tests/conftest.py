import os
import pathlib
import shutil
import sys
import tempfile

import cornice.service
import pytest

from cliquet.migration import migrate
from cliquet.sql import create_engine_from_url
from cliquet.testing.web import basic_auth, build_app

# pytester: tests/test_servers.py runs suites of its own.
pytest_plugins = ["tests.servers", "pytester"]

SEED_PACKAGES = os.path.join(os.path.dirname(__file__), "seed_packages")


_SHARED_SCOPES = {"class", "module", "package"}


# The storage backends the resource test service runs on (tests/resource/conftest.py).
RESOURCE_BACKENDS = ("memory", "sqlite", "postgresql")
# What a test of the resource service runs on without a ``backends`` marker.
DEFAULT_RESOURCE_BACKENDS = ("memory",)


def pytest_addoption(parser):
    parser.addoption(
        "--all-backends",
        action="store_true",
        help="run every test of the resource service on every storage backend, whatever "
        "its backends marker says (the whole matrix, for a nightly run or a backend change)",
    )
    parser.addoption(
        "--reliability",
        action="store_true",
        help="also collect the reliability suites of tests/reliability (fuzz, races, faults, "
        "memory: minutes); naming that directory on the command line does it too",
    )


RELIABILITY = os.path.join(os.path.dirname(__file__), "reliability")


def _asks_for_reliability(config):
    if config.getoption("reliability"):
        return True
    for arg in config.args:
        path = os.path.abspath(arg.split("::")[0])
        if path == RELIABILITY or path.startswith(RELIABILITY + os.sep):
            return True
    return False


def pytest_ignore_collect(collection_path, config):
    """Leave tests/reliability out of a plain run: the README's suite stays quick."""
    path = str(collection_path)
    if (path == RELIABILITY or path.startswith(RELIABILITY + os.sep)) and not (
        _asks_for_reliability(config)
    ):
        return True
    return None


class Figures:
    """What a test measured, printed at the end of the run: ``figures.add("5xx", 0)``."""

    def __init__(self, node):
        self._node = node

    def add(self, name, value):
        self._node.user_properties.append(("figure", (name, value)))


@pytest.fixture
def figures(request):
    return Figures(request.node)


class _FigureReport:
    """Gathers the figures of the run's reports (on the controller too under xdist:
    ``user_properties`` travel with the reports) and prints them at the end."""

    def __init__(self):
        self.figures = []

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            for key, value in report.user_properties:
                if key == "figure":
                    self.figures.append((report.nodeid, *value))

    def pytest_terminal_summary(self, terminalreporter):
        if not self.figures:
            return
        terminalreporter.section("figures")
        width = max(len(name) for _, name, _ in self.figures)
        current = None
        for nodeid, name, value in self.figures:
            if nodeid != current:
                terminalreporter.write_line(nodeid)
                current = nodeid
            if isinstance(value, float):
                value = f"{value:,.3f}"
            elif isinstance(value, int):
                value = f"{value:,}"
            terminalreporter.write_line(f"    {name:<{width}}  {value}")


def pytest_configure(config):
    config.pluginmanager.register(_FigureReport(), "cliquet-figures")


def _backends(marks):
    """The backends the first (closest) ``backends`` marker of ``marks`` names, or None."""
    for mark in marks:
        if mark.name == "backends":
            unknown = [name for name in mark.args if name not in RESOURCE_BACKENDS]
            if unknown or not mark.args:
                raise pytest.UsageError(
                    f"backends{mark.args!r}: choose among {', '.join(RESOURCE_BACKENDS)}"
                )
            return mark.args
    return None


def _param_marks(definition):
    """The marks of the ``pytest.param`` cases of a test's ``parametrize`` markers."""
    for parametrize in definition.iter_markers("parametrize"):
        argvalues = parametrize.args[1] if len(parametrize.args) > 1 else ()
        for value in argvalues:
            yield from getattr(value, "marks", ())


def _wanted(item_or_definition, param_marks=()):
    """The backends a test (or one case of it: ``param_marks``) runs on."""
    if item_or_definition.config.getoption("all_backends"):
        return RESOURCE_BACKENDS
    names = _backends(param_marks)
    if names is None:
        names = _backends(item_or_definition.iter_markers("backends"))
    return names or DEFAULT_RESOURCE_BACKENDS


def pytest_generate_tests(metafunc):
    """Run each test of the resource service on the backends its ``backends`` marker names.

    A test of the service (one using ``app``, ``make_resource_app`` or ``backend_settings``,
    which all need ``resource_backend``) runs once per backend, with the backend as its id
    (``test_x[sqlite]``). The marker may be on the test, its class or its module
    (``pytestmark``), the closest one counting, or on one case of a ``parametrize``
    (``pytest.param(..., marks=pytest.mark.backends(...))``), which then counts for that case:
    the union is generated here, what a case does not want is left out at collection.
    """
    if "resource_backend" not in metafunc.fixturenames:
        return
    definition = metafunc.definition
    names = list(_wanted(definition))
    for mark in _param_marks(definition):
        for name in _backends([mark]) or ():
            if name not in names:
                names.append(name)
    metafunc.parametrize(
        "resource_backend",
        [
            pytest.param(
                name, id=name, marks=[pytest.mark.postgresql] if name == "postgresql" else []
            )
            for name in RESOURCE_BACKENDS
            if name in names
        ],
        indirect=True,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """Leave out the cases a ``backends`` marker does not want; group shared fixtures.

    A case of a ``parametrize`` with its own ``backends`` marker runs on those backends only,
    the other cases on the test's (see ``pytest_generate_tests``): the others are not tests at
    all, so they are dropped rather than reported deselected.

    Then the tests sharing a module- (class-, package-) scoped fixture are kept on one xdist
    worker. The suite runs with ``-n auto --dist loadgroup`` (pyproject.toml): without a group,
    the tests of such a module would be spread over the workers, each building the fixture
    (a virtualenv, a baked template, a served process) again. Before xdist's own hook
    (``tryfirst``), which reads the groups.
    """
    kept = []
    for item in items:
        callspec = getattr(item, "callspec", None)
        backend = callspec.params.get("resource_backend") if callspec is not None else None
        if backend is None or backend in _wanted(item, callspec.marks):
            kept.append(item)
    items[:] = kept
    for item in items:
        info = getattr(item, "_fixtureinfo", None)
        if info is None or item.get_closest_marker("xdist_group") is not None:
            continue
        if any(
            fixturedef.scope in _SHARED_SCOPES
            for fixturedefs in info.name2fixturedefs.values()
            for fixturedef in fixturedefs
        ):
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))


@pytest.fixture
def resource_backend(request):
    """The name of the storage backend the test runs on (see ``pytest_generate_tests``)."""
    return request.param


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory):
    """A SQLite file holding the storage and permission schemas, migrated once per session.

    Tests copy it rather than migrate a new file each (see ``tests/resource/conftest.py``).
    Here, not there, since other directories import that conftest's fixtures by name.
    """
    path = tmp_path_factory.mktemp("sqlite-template") / "resources.db"
    engine = create_engine_from_url(f"sqlite:///{path}")
    try:
        for component in ("storage", "permission"):
            migrate(engine, component)
    finally:
        # The last connection closed checkpoints the WAL into the file, which is then whole.
        engine.dispose()
    return path


# Memory-backed where the system has it: a commit then costs no disk sync, a third of a
# request's time on SQLite (what the tests check is the same on any file system).
_FAST_TEMP = "/dev/shm"


@pytest.fixture(scope="session")
def fast_session_path(tmp_path_factory):
    """A directory of the session's own in memory where the system has one (``/dev/shm``):
    for SQLite files, whose commits then cost no disk sync. Removed after the session."""
    fast = os.path.isdir(_FAST_TEMP) and os.access(_FAST_TEMP, os.W_OK)
    parent = _FAST_TEMP if fast else tmp_path_factory.getbasetemp()
    with tempfile.TemporaryDirectory(prefix="cliquet-test-", dir=parent) as directory:
        yield pathlib.Path(directory)


@pytest.fixture
def fast_tmp_path(fast_session_path):
    """Like ``tmp_path``, in ``fast_session_path``: for a SQLite file of the test's own."""
    path = pathlib.Path(tempfile.mkdtemp(dir=fast_session_path))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def resource_sqlite_url(sqlite_template, fast_session_path):
    """The session's SQLite file of the resource test service, a copy of the template."""
    path = fast_session_path / "resources.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def resource_apps():
    """The resource test service of each backend, built once per session by the ``app``
    fixture of ``tests/resource/conftest.py`` (which empties it after each test)."""
    apps = {}
    yield apps
    for app in apps.values():
        registry = app.app.registry
        for backend in (registry.storage, registry.permission):
            engine = getattr(backend, "engine", None)
            if engine is not None:
                engine.dispose()


@pytest.fixture(autouse=True)
def _forget_cornice_services():
    """Let the apps a test built be freed once it is done.

    Cornice keeps every service ever defined in a module-level list (``cornice.service``,
    read by documentation tools only, never at request time): each app built (a scan of its
    resources) stayed there with its whole registry, 1.3 MB an app, and a worker builds
    hundreds of them (it was thousands, gigabytes, when every test built its own).
    """
    yield
    cornice.service.clear_services()


@pytest.fixture
def seed_packages(monkeypatch):
    """Put the seed's example packages on the path (and forget them afterwards)."""
    monkeypatch.syspath_prepend(SEED_PACKAGES)
    yield SEED_PACKAGES
    for name in list(sys.modules):
        if name.split(".")[0] in {
            "cliquet_elasticsearch",
            "cliquet_riak",
            "riak",
            "cliquet_fluent",
            "cliquet_indexing",
            "indexedproject",
            "myproject",
        }:
            del sys.modules[name]


@pytest.fixture
def make_app():
    return build_app


@pytest.fixture
def app():
    return build_app()


@pytest.fixture
def auth():
    return basic_auth()
