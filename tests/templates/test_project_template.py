"""The project template (``templates/project``), baked by Cookiecutter itself (pytest-cookies).

A baked project must be where DESIGN.md says, hold no Jinja leftovers, depend on a range of
cliquet that includes this one, and pass its own tests out of the box.
"""

import configparser
import shutil
import subprocess
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import cliquet
from tests.own_tests import run_own_tests

TEMPLATE = Path(__file__).resolve().parents[2] / "templates" / "project"
SKIPPED_DIRS = {"__pycache__", ".pytest_cache"}
EXPECTED_FILES = {
    ".gitignore",
    "README.md",
    "development.ini",
    "gunicorn.conf.py",
    "production.ini",
    "pyproject.toml",
    "{package}/__init__.py",
    "{package}/demo.html",
    "{package}/demo.py",
    "{package}/views.py",
    "tests/conftest.py",
    "tests/test_articles.py",
    "tests/test_configuration.py",
    "tests/test_demo.py",
}


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


def read_ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(path)
    return parser


@pytest.mark.parametrize(
    ("context", "directory", "package"),
    [
        ({}, "myservice", "myservice"),
        ({"project_name": "blog-api"}, "blog-api", "blog_api"),
        ({"project_name": "Blog.API", "package_name": "blog"}, "Blog.API", "blog"),
        ({"production_cache": "postgresql"}, "myservice", "myservice"),
    ],
)
def test_files_are_where_the_design_says(cookies, context, directory, package):
    project = bake(cookies, **context)
    assert project.name == directory
    assert baked_files(project) == {f.format(package=package) for f in EXPECTED_FILES}


@pytest.mark.parametrize("production_cache", ["redis", "postgresql"])
def test_no_jinja_leftovers(cookies, production_cache):
    project = bake(cookies, production_cache=production_cache)
    for name in baked_files(project):
        text = (project / name).read_text()
        assert "{{" not in text and "{%" not in text, name


def test_depends_on_a_compatible_cliquet_and_on_what_it_uses(cookies):
    text = (bake(cookies) / "pyproject.toml").read_text()
    block = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    requirements = [
        Requirement(line.split("#")[0].strip().strip(",").strip('"'))
        for line in block.splitlines()
        if line.split("#")[0].strip()
    ]
    assert {r.name for r in requirements} == {"cliquet-kit", "colander", "pyramid", "waitress"}
    (cliquet_requirement,) = [r for r in requirements if r.name == "cliquet-kit"]
    assert cliquet_requirement.specifier.contains(cliquet.__version__, prereleases=True)
    assert not cliquet_requirement.specifier.contains("1.0", prereleases=True)
    assert 'production = ["gunicorn' in text


def test_development_ini_runs_on_sqlite_with_a_secret_of_its_own(cookies):
    first = read_ini(bake(cookies) / "development.ini")
    app = first["app:main"]
    assert app["cliquet.storage_backend"] == "cliquet.storage.sql"
    assert app["cliquet.storage_url"] == "sqlite:///%(here)s/myservice.db"
    assert app["cliquet.permission_backend"] == "cliquet.permission.sql"
    assert app["cliquet.cache_backend"] == "cliquet.cache.memory"
    assert app["cliquet.migrate_on_startup"] == "true"
    assert first["server:main"]["get port"] == "http_port"
    second = read_ini(bake(cookies, project_name="other") / "development.ini")
    secret = app["cliquet.userid_hmac_secret"]
    assert len(secret) >= 32
    assert secret != second["app:main"]["cliquet.userid_hmac_secret"]


@pytest.mark.parametrize(
    ("production_cache", "backend"),
    [("redis", "cliquet.cache.redis"), ("postgresql", "cliquet.cache.postgresql")],
)
def test_production_ini_takes_secrets_from_the_environment(cookies, production_cache, backend):
    parser = read_ini(bake(cookies, production_cache=production_cache) / "production.ini")
    app = parser["app:main"]
    assert app["cliquet.storage_backend"] == "cliquet.storage.postgresql"
    assert app["cliquet.cache_backend"] == backend
    for name in ("storage_url", "permission_url", "cache_url", "userid_hmac_secret"):
        assert app[f"cliquet.{name}"] == ""
    assert parser["server:main"]["use"] == "egg:gunicorn#main"
    # The public origin is the environment's, never the client's Host header.
    assert app["cliquet.http_scheme"] == "https"
    assert app["cliquet.http_host"] == ""


def test_development_ini_bounds_what_clients_may_hold(cookies):
    server = read_ini(bake(cookies) / "development.ini")["server:main"]
    assert server["use"] == "call:cliquet.server:main"
    assert int(server["connection_limit"]) >= 200
    assert server["asyncore_use_poll"] == "true"
    assert int(server["channel_timeout"]) <= 60
    assert int(server["max_request_header_size"]) <= 65536
    # Over the service's own limit, so that the service answers its JSON 413 first.
    assert (
        int(server["max_request_body_size"])
        > cliquet.DEFAULT_SETTINGS["cliquet.max_request_body_bytes"]
    )


def test_gunicorn_conf_bounds_what_clients_may_hold(cookies):
    namespace = {}
    exec((bake(cookies) / "gunicorn.conf.py").read_text(), namespace)
    assert namespace["timeout"] <= 60
    assert namespace["limit_request_line"] > 0
    assert namespace["limit_request_field_size"] > 0


def test_readme_starts_with_its_two_commands(cookies):
    readme = (bake(cookies) / "README.md").read_text()
    commands = [block.split("\n```")[0] for block in readme.split("```sh\n")[1:]]
    assert commands[:2] == [
        "pip install -e . && pserve development.ini",
        "pip install -e '.[test]' && python -m pytest",
    ]


@pytest.mark.parametrize("production_cache", ["redis", "postgresql"])
def test_generated_tests_pass(cookies, production_cache):
    project = bake(cookies, project_name="blog-api", production_cache=production_cache)
    result = run_own_tests(project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout and "failed" not in result.stdout


@pytest.mark.skipif(shutil.which("ruff") is None, reason="ruff is not installed (dev extra)")
def test_generated_code_passes_its_own_linter(cookies):
    project = bake(cookies, project_name="blog-api")
    for command in (["ruff", "check", "."], ["ruff", "format", "--check", "."]):
        result = subprocess.run(command, cwd=project, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
