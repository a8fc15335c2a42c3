"""``cliquet migrate --ini FILE``: create or upgrade schemas, idempotently, telling what it did."""

import sqlite3
import textwrap

import pytest
from click.testing import CliRunner

from cliquet_cli.main import cli


def write_ini(path, **settings):
    lines = "\n".join(f"{key} = {value}" for key, value in settings.items())
    path.write_text(f"[app:main]\nuse = egg:cliquet-kit\n{lines}\n")
    return str(path)


def run(*args):
    return CliRunner().invoke(cli, ["migrate", *args], prog_name="cliquet")


@pytest.fixture
def sqlite_ini(tmp_path):
    url = f"sqlite:///{tmp_path / 'service.db'}"
    ini = write_ini(
        tmp_path / "service.ini",
        **{
            "cliquet.storage_backend": "cliquet.storage.sql",
            "cliquet.storage_url": url,
            "cliquet.cache_backend": "cliquet.cache.sql",
            "cliquet.cache_url": url,
            "cliquet.permission_backend": "cliquet.permission.sql",
            "cliquet.permission_url": url,
        },
    )
    return ini, tmp_path / "service.db"


def tables(db_path):
    with sqlite3.connect(db_path) as connection:
        rows = connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {name for (name,) in rows}


def test_migrate_creates_schemas_and_records_versions(sqlite_ini):
    ini, db_path = sqlite_ini
    result = run("--ini", ini)
    assert result.exit_code == 0, result.output
    assert "storage: upgraded empty -> storage_0003" in result.output
    assert "cache: upgraded empty -> cache_0001" in result.output
    assert "permission: upgraded empty -> permission_0001" in result.output
    assert {
        "cliquet_storage_version",
        "cliquet_cache_version",
        "cliquet_permission_version",
        "cache",
        "access_control_entries",
    } <= tables(db_path)


def test_migrate_is_idempotent(sqlite_ini):
    ini, _ = sqlite_ini
    run("--ini", ini)
    result = run("--ini", ini)
    assert result.exit_code == 0
    assert result.output.splitlines() == [
        "storage: up to date (revision storage_0003)",
        "cache: up to date (revision cache_0001)",
        "permission: up to date (revision permission_0001)",
    ]


def test_dry_run_creates_nothing(sqlite_ini):
    ini, db_path = sqlite_ini
    result = run("--ini", ini, "--dry-run")
    assert result.exit_code == 0, result.output
    assert f"storage: would create {db_path} and upgrade empty -> storage_0003" in result.output
    assert not db_path.exists()


def test_dry_run_of_an_existing_database_changes_nothing(sqlite_ini):
    ini, db_path = sqlite_ini
    sqlite3.connect(db_path).close()
    result = run("--ini", ini, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "storage: would upgrade empty -> storage_0003" in result.output
    assert tables(db_path) == set()


def test_memory_backends_have_nothing_to_migrate(tmp_path):
    result = run("--ini", write_ini(tmp_path / "m.ini"))
    assert result.exit_code == 0
    assert "storage: nothing to migrate (cliquet.storage.memory)" in result.output


def test_environment_overrides_the_ini(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("CLIQUET_CACHE_BACKEND", "cliquet.cache.sql")
    monkeypatch.setenv("CLIQUET_CACHE_URL", url)
    result = run("--ini", write_ini(tmp_path / "m.ini"))
    assert "cache: upgraded empty -> cache_0001" in result.output
    assert "cache" in tables(tmp_path / "env.db")


def test_missing_file_is_a_clear_error(tmp_path):
    result = run("--ini", str(tmp_path / "nope.ini"))
    assert result.exit_code == 2
    assert "does not exist" in result.output


def test_file_without_app_section_is_a_clear_error(tmp_path):
    ini = tmp_path / "other.ini"
    ini.write_text("[server:main]\nuse = egg:waitress#main\n")
    result = run("--ini", str(ini))
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "Traceback" not in result.output


def test_bad_backend_setting_is_a_clear_error(tmp_path):
    result = run("--ini", write_ini(tmp_path / "b.ini", **{"cliquet.cache_backend": "nowhere"}))
    assert result.exit_code == 1
    assert "cliquet.cache_backend" in result.output
    assert "Traceback" not in result.output


def test_unreachable_database_is_a_clear_error(tmp_path):
    ini = write_ini(
        tmp_path / "down.ini",
        **{
            "cliquet.cache_backend": "cliquet.cache.sql",
            "cliquet.cache_url": "postgresql://postgres@127.0.0.1:1/nowhere",
            "cliquet.cache_pool_timeout_seconds": "2",
        },
    )
    result = run("--ini", ini)
    assert result.exit_code == 1
    assert "A database could not be migrated" in result.output


def test_help_is_documented():
    result = CliRunner().invoke(cli, ["migrate", "--help"])
    assert result.exit_code == 0
    assert textwrap.dedent("--dry-run") in result.output


# The service's own configuration: its main()'s defaults, cliquet.includes, the environment.


@pytest.fixture
def service_module(tmp_path, monkeypatch):
    """Write an importable module ``NAME`` holding SOURCE; return the directory."""
    monkeypatch.syspath_prepend(str(tmp_path))

    def write(name, source):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))

    return write


def test_migrate_uses_the_defaults_of_the_services_main(tmp_path, service_module):
    url = f"sqlite:///{tmp_path / 'main.db'}"
    service_module(
        "svc_defaults",
        f"""
        import cliquet
        from pyramid.config import Configurator

        def main(global_config, **settings):
            config = Configurator(settings=settings)
            cliquet.initialize(config, "1.0", default_settings={{
                "cliquet.cache_backend": "cliquet.cache.sql",
                "cliquet.cache_url": {url!r},
            }})
            return config.make_wsgi_app()
        """,
    )
    ini = tmp_path / "svc.ini"
    ini.write_text("[app:main]\nuse = call:svc_defaults:main\n")
    result = run("--ini", str(ini))
    assert result.exit_code == 0, result.output
    assert "cache: upgraded empty -> cache_0001" in result.output
    assert "cache" in tables(tmp_path / "main.db")


def test_migrate_includes_the_packages_of_the_service(tmp_path, service_module):
    """An included package may replace a backend: migrate sees what the service would use."""
    url = f"sqlite:///{tmp_path / 'included.db'}"
    service_module(
        "svc_included_cache",
        f"""
        from cliquet.cache.sql import load_from_config
        from pyramid.config import Configurator

        def includeme(config):
            config.registry.cache = load_from_config(
                Configurator(settings={{"cliquet.cache_url": {url!r}}})
            )
        """,
    )
    ini = write_ini(tmp_path / "inc.ini", **{"cliquet.includes": "svc_included_cache"})
    result = run("--ini", ini)
    assert result.exit_code == 0, result.output
    assert "cache: upgraded empty -> cache_0001" in result.output
    assert "cache" in tables(tmp_path / "included.db")


def test_migrate_does_not_migrate_at_start_up_even_when_the_ini_says_so(sqlite_ini):
    ini, db_path = sqlite_ini
    with open(ini, "a") as f:
        f.write("cliquet.migrate_on_startup = true\n")
    result = run("--ini", ini, "--dry-run")
    assert result.exit_code == 0, result.output
    assert not db_path.exists()


def test_a_setting_error_of_the_service_is_one_line(tmp_path):
    ini = write_ini(tmp_path / "bad.ini", **{"cliquet.storage_backend": "cliquet.storage.sql"})
    result = run("--ini", ini)
    assert result.exit_code == 1
    assert result.output == (
        "Error: cliquet.storage_url is empty (expected postgresql://user@host/db or "
        "sqlite:///path.db): set it in bad.ini or CLIQUET_STORAGE_URL\n"
    )


def test_before_the_project_is_installed_it_says_what_to_do_in_one_line(tmp_path, monkeypatch):
    project = tmp_path / "notyet"
    project.mkdir()
    (project / "development.ini").write_text("[app:main]\nuse = egg:notyet-service\n")
    monkeypatch.chdir(project)
    result = run("--ini", "development.ini")
    assert result.exit_code == 1
    assert result.output == (
        "Error: development.ini names the distribution 'notyet-service', which is not "
        "installed: run `pip install -e .` first.\n"
    )
