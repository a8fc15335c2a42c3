"""The extension template (``templates/extension``).

A baked extension must be where DESIGN.md says, hold no Jinja leftovers, be includable through
``cliquet.includes`` (service, settings with environment overrides, subscriber, capability) and
pass its own tests.
"""

import importlib
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import cliquet
from cliquet.testing.web import basic_auth, build_app
from tests.own_tests import run_own_tests

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "extension"
SKIPPED_DIRS = {"__pycache__", ".pytest_cache", ".ruff_cache"}
QUOTED = 'Says "hello" \\ counts changes'


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


def forget(package):
    for name in [n for n in sys.modules if n.split(".")[0] == package]:
        del sys.modules[name]


@pytest.fixture(scope="module")
def project(cookies_session):
    """The extension baked with the defaults."""
    return bake(cookies_session)


@pytest.fixture(scope="module")
def custom_project(cookies_session):
    """The extension baked with a dashed name and a description that needs escaping."""
    return bake(cookies_session, extension_name="Weather-Report", description=QUOTED)


@pytest.fixture
def on_path(project, monkeypatch):
    """The default extension importable, as if installed (and forgotten afterwards)."""
    monkeypatch.syspath_prepend(str(project))
    yield importlib.import_module("cliquet_myextension")
    forget("cliquet_myextension")


# Layout and rendering.


def test_defaults_bake_where_design_says(project):
    assert project.name == "cliquet-myextension"
    assert baked_files(project) == {
        ".gitignore",
        "README.md",
        "pyproject.toml",
        "cliquet_myextension/__init__.py",
        "tests/test_includeme.py",
    }


def test_custom_name_is_made_a_package_name(custom_project):
    assert custom_project.name == "cliquet-weather_report"
    assert (custom_project / "cliquet_weather_report" / "__init__.py").is_file()


@pytest.mark.parametrize("which", ["project", "custom_project"])
def test_no_jinja_leftovers(request, which):
    baked = request.getfixturevalue(which)
    for name in baked_files(baked):
        text = (baked / name).read_text(encoding="utf-8")
        for marker in ("{{", "{%", "{#", "cookiecutter"):
            assert marker not in text, f"{marker!r} left in {name}"


def test_readme_shows_setup_and_settings(project):
    readme = (project / "README.md").read_text(encoding="utf-8")
    assert "cliquet.includes = cliquet_myextension" in readme
    assert "cliquet_myextension.greeting" in readme
    assert "CLIQUET_MYEXTENSION_GREETING" in readme
    assert 'pip install -e ".[dev]"' in readme


@pytest.mark.parametrize("which", ["project", "custom_project"])
def test_pyproject_is_installable_against_this_runtime(request, which):
    tomllib = pytest.importorskip("tomllib")
    baked = request.getfixturevalue(which)
    pyproject = tomllib.loads((baked / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["name"] == baked.name
    (requirement,) = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    assert requirement.name == "cliquet-kit"
    assert requirement.specifier.contains(cliquet.__version__, prereleases=True)
    assert pyproject["tool"]["pytest"]["ini_options"]["testpaths"] == ["tests"]
    if which == "custom_project":
        assert pyproject["project"]["description"] == QUOTED


# The baked extension inside a service.


def test_included_through_the_setting(on_path):
    app = build_app({"cliquet.includes": "cliquet_myextension"})
    assert app.get("/v1/myextension").json == {"greeting": "hello", "changes": {}}
    capabilities = app.get("/v1/").json["capabilities"]
    assert capabilities["myextension"]["version"] == on_path.__version__


def test_default_settings_go_through_load_default_settings(on_path, monkeypatch):
    assert on_path.DEFAULT_SETTINGS == {"cliquet_myextension.greeting": "hello"}
    monkeypatch.setenv("CLIQUET_MYEXTENSION_GREETING", "salut")
    app = build_app({"cliquet.includes": "cliquet_myextension"})
    assert app.get("/v1/myextension").json["greeting"] == "salut"


def test_subscriber_counts_a_change(on_path):
    from cliquet import resource

    class Thing(resource.UserResource):
        pass

    def setup(config):
        resource.register_resource(config, Thing, name="thing")

    app = build_app({"cliquet.includes": "cliquet_myextension"}, setup=setup)
    app.post_json("/v1/things", {"data": {}}, headers=basic_auth())  # no schema: no fields
    assert app.get("/v1/myextension").json["changes"] == {"create": 1}


# The baked projects' own tests, run as their author would.


@pytest.mark.parametrize("which", ["project", "custom_project"])
def test_baked_tests_pass(request, which):
    baked = request.getfixturevalue(which)
    completed = run_own_tests(baked, {"PYTHONPATH": str(baked)})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert " passed" in completed.stdout
    assert "skipped" not in completed.stdout


# Names and options are checked by `cliquet new` before rendering (tests/cli/test_new.py).
