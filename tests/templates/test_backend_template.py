"""The backend template (``templates/backend``), baked with each kind.

A baked backend must be where DESIGN.md says, hold no Jinja leftovers, keep every method of the
runtime's contract with the runtime's signature and docstring, and pass its own tests, which run
cliquet's conformance suite for its kind.
"""

import importlib
import inspect
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import cliquet
from cliquet.cache import CacheBase
from cliquet.permission import PermissionBase
from cliquet.storage import StorageBase
from tests.own_tests import run_own_tests

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "backend"
BASES = {"cache": CacheBase, "storage": StorageBase, "permission": PermissionBase}
CLASSES = {"cache": "Cache", "storage": "Storage", "permission": "Permission"}
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}


def baked_files(project: Path) -> set[str]:
    return {
        path.relative_to(project).as_posix()
        for path in project.rglob("*")
        if path.is_file() and not SKIPPED_DIRS.intersection(path.relative_to(project).parts)
    }


def bake(cookies, **context):
    result = cookies.bake(template=str(TEMPLATE), extra_context=context)
    assert result.exception is None, result.exception
    assert result.exit_code == 0
    return result.project_path


@pytest.fixture(scope="module", params=list(BASES))
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def project(cookies_session, kind):
    """A backend of ``kind`` named "acme", baked once per kind."""
    return bake(cookies_session, backend_name="acme", kind=kind, author="Ada")


@pytest.fixture
def module(project, kind, monkeypatch):
    """The baked backend module, imported from the baked project (and forgotten afterwards)."""
    monkeypatch.syspath_prepend(str(project))
    yield importlib.import_module(f"cliquet_acme.{kind}")
    for name in [n for n in sys.modules if n.split(".")[0] == "cliquet_acme"]:
        del sys.modules[name]


# Layout and rendering.


def test_defaults_bake_a_cache_backend(cookies):
    project = bake(cookies)
    assert project.name == "cliquet-mybackend"
    assert baked_files(project) == {
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "cliquet_mybackend/__init__.py",
        "cliquet_mybackend/cache.py",
        "tests/test_cache.py",
    }


def test_each_kind_keeps_only_its_module_and_tests(project, kind):
    assert project.name == "cliquet-acme"
    assert baked_files(project) == {
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "cliquet_acme/__init__.py",
        f"cliquet_acme/{kind}.py",
        f"tests/test_{kind}.py",
    }


def test_no_jinja_leftovers(project):
    for name in baked_files(project):
        text = (project / name).read_text(encoding="utf-8")
        for marker in ("{{", "{%", "{#", "cookiecutter"):
            assert marker not in text, f"{marker!r} left in {name}"


def test_readme_shows_setup_and_settings(project, kind):
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert f"cliquet.{kind}_backend = cliquet_acme.{kind}" in readme
    assert f"cliquet.{kind}_url = " in readme
    assert 'pip install -e ".[dev]"' in readme
    assert "pytest" in readme


def test_pyproject_depends_on_a_range_holding_this_runtime(project):
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["name"] == "cliquet-acme"
    assert pyproject["project"]["authors"] == [{"name": "Ada"}]
    (requirement,) = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    assert requirement.name == "cliquet-kit"
    assert requirement.specifier.contains(cliquet.__version__, prereleases=True)
    assert pyproject["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]


def test_name_with_dashes_and_capitals_and_quoted_description(cookies):
    description = 'Talks to "Acme" \\ the store'
    project = bake(cookies, backend_name="My-Store", kind="storage", description=description)
    assert project.name == "cliquet-my_store"
    assert (project / "cliquet_my_store" / "storage.py").is_file()
    tomllib = pytest.importorskip("tomllib")
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == description


# The baked module keeps the runtime's contract.


def test_backend_class_implements_every_contract_method(module, kind):
    backend_class = getattr(module, CLASSES[kind])
    base = BASES[kind]
    assert issubclass(backend_class, base)
    assert not inspect.isabstract(backend_class)
    for name in base.__abstractmethods__:
        ours = inspect.signature(getattr(backend_class, name), eval_str=True)
        assert ours == inspect.signature(getattr(base, name), eval_str=True), name
        assert inspect.getdoc(getattr(backend_class, name)) == inspect.getdoc(getattr(base, name))


def test_load_from_config_reads_the_url_setting(module, kind):
    from pyramid.config import Configurator

    settings = {f"cliquet.{kind}_url": "acme://db.example.com:1234"}
    backend = module.load_from_config(Configurator(settings=settings))
    assert isinstance(backend, BASES[kind])
    assert (backend._client.host, backend._client.port) == ("db.example.com", 1234)


def test_backend_loads_as_a_service_backend(project, kind, monkeypatch):
    """What a service does with ``cliquet.<kind>_backend = cliquet_acme.<kind>``."""
    from cliquet.testing.web import build_app

    monkeypatch.syspath_prepend(str(project))
    try:
        app = build_app({f"cliquet.{kind}_backend": f"cliquet_acme.{kind}"})
        assert app.get("/v1/__heartbeat__").json[kind] is True
    finally:
        for name in [n for n in sys.modules if n.split(".")[0] == "cliquet_acme"]:
            del sys.modules[name]


# The baked project's own tests: the conformance suite, run as its author would.


def test_baked_tests_pass(project):
    completed = run_own_tests(project, {"PYTHONPATH": str(project)})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert " passed" in completed.stdout
    assert "skipped" not in completed.stdout


# Validation: names and options are checked by `cliquet new` before rendering
# (tests/cli/test_new.py); plain Cookiecutter refuses what is not a choice.


def test_unknown_kind_fails(cookies):
    result = cookies.bake(template=str(TEMPLATE), extra_context={"kind": "queue"})
    assert result.exception is not None
