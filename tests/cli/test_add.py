"""``cliquet add``: a backend and an extension generated inside a service, wired in."""

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from cliquet_cli import wiring
from cliquet_cli.main import cli
from tests.own_tests import run_own_tests


def run(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.fixture
def project(tmp_path):
    result = run("new", "project", "svc", "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    return tmp_path / "svc"


def add(project, *args):
    result = run("add", *args, "--no-input", "-C", str(project))
    assert result.exit_code == 0, result.output
    return result


def importable(project):
    """PYTHONPATH of a fresh interpreter at the service's root, its packages importable."""
    paths = [str(project), str(project / "cliquet-stats"), str(project / "cliquet-riak")]
    return os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")])


def serve_check(project, code):
    """Run ``code`` in a fresh interpreter at the service's root, its packages importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLIQUET_")}
    env["PYTHONPATH"] = importable(project)
    return subprocess.run(
        [sys.executable, *code],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_extension_then_a_backend_are_wired_and_the_tests_pass(project):
    result = add(project, "extension", "stats")
    assert f"Added extension stats in {project / 'cliquet-stats'}" in result.output
    assert "development.ini: cliquet.includes += cliquet_stats" in result.output
    result = add(project, "backend", "riak", "--kind", "cache")
    assert "development.ini: cliquet.cache_backend = cliquet_riak.cache" in result.output

    assert (project / "cliquet-stats" / "cliquet_stats" / "__init__.py").is_file()
    assert (project / "cliquet-riak" / "cliquet_riak" / "cache.py").is_file()
    ini = (project / "development.ini").read_text()
    assert "cliquet.cache_backend = cliquet_riak.cache\n" in ini
    assert "cliquet.cache.memory" not in ini
    assert "cliquet.includes = svc.demo cliquet_stats\n" in ini
    pyproject = (project / "pyproject.toml").read_text()
    assert '    "cliquet-stats",\n    "cliquet-riak",\n]' in pyproject
    assert 'pythonpath = [".", "cliquet-stats", "cliquet-riak"]' in pyproject
    record = json.loads((project / ".cliquet.json").read_text())
    assert record["parts"] == ["cliquet-riak", "cliquet-stats"]

    check = serve_check(
        project,
        [
            "-c",
            "import configparser, webtest; from svc import main; "
            "p = configparser.ConfigParser(defaults={'here': '.'}); p.read('development.ini'); "
            "s = {k: v for k, v in p['app:main'].items() if k.startswith('cliquet.')}; "
            "s['cliquet.storage_url'] = s['cliquet.permission_url'] = 'sqlite://'; "
            "app = main({}, **s); "
            "print(type(app.registry.cache).__module__); "
            "print(sorted(webtest.TestApp(app).get('/v1/').json['capabilities']))",
        ],
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.splitlines() == ["cliquet_riak.cache", "['client', 'stats']"]

    tests = run_own_tests(project, {"PYTHONPATH": importable(project)})
    assert tests.returncode == 0, tests.stdout + tests.stderr

    result = run("update", str(project), "--no-input")
    assert result.exit_code == 0, result.output
    assert result.output == (
        f"Nothing to do: {project} (and the 2 packages it holds) is up to date with cliquet "
        f"{record['cliquet_version']}.\n"
    )


def test_update_updates_the_added_packages_too(project):
    add(project, "extension", "stats")
    readme = project / "cliquet-stats" / "README.md"
    original = readme.read_text()
    readme.unlink()
    record = json.loads((project / "cliquet-stats" / ".cliquet.json").read_text())
    record["files"]["README.md"] = "sha256:0"  # as if an older cliquet had written it
    (project / "cliquet-stats" / ".cliquet.json").write_text(json.dumps(record))
    result = run("update", str(project), "--no-input")
    assert result.exit_code == 0, result.output
    assert f"Updated extension {project / 'cliquet-stats'}" in result.output
    assert readme.read_text() == original


def test_the_service_own_files_ignore_the_added_packages(project):
    add(project, "extension", "stats")
    result = run("new", "project", "svc", "--no-input", "--force", "-o", str(project.parent))
    # Refused for the wiring's edits alone: the package's files are its own record's.
    assert result.exit_code == 1
    assert "generated: development.ini, pyproject.toml. Nothing" in result.output
    assert "cliquet-stats" not in result.output


def test_outside_a_service_it_is_refused(tmp_path):
    result = run("add", "extension", "stats", "--no-input", "-C", str(tmp_path))
    assert result.exit_code == 1
    assert "is not a service generated by `cliquet new project`" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_unwirable_service_is_left_as_it_was(project):
    (project / "development.ini").write_text("[server:main]\n")
    result = run("add", "extension", "stats", "--no-input", "-C", str(project))
    assert result.exit_code == 1
    assert "development.ini has no [app:main] section" in result.output
    assert not (project / "cliquet-stats").exists()
    assert (
        "parts" not in (project / ".cliquet.json").read_text()
        or json.loads((project / ".cliquet.json").read_text())["parts"] == []
    )


@pytest.mark.parametrize("command", ["backend", "extension"])
def test_help_gives_examples(command):
    result = run("add", command, "--help")
    assert result.exit_code == 0
    assert f"cliquet add {command} " in result.output


# --- the edits ----------------------------------------------------------------------------

INI = """[app:main]
use = egg:svc
cliquet.cache_backend = cliquet.cache.memory
# a comment
cliquet.includes = a
    b

# the server
[server:main]
port = 1
"""


def test_a_setting_is_replaced_in_place():
    edited = wiring.with_setting(INI, "cliquet.cache_backend", "x.cache")
    assert edited == INI.replace("cliquet.cache.memory", "x.cache")


def test_a_missing_setting_goes_after_the_section_last_line():
    edited = wiring.with_setting(INI, "cliquet.storage_backend", "x.storage")
    assert "    b\ncliquet.storage_backend = x.storage\n\n# the server\n" in edited


def test_an_include_is_appended_not_replacing():
    edited = wiring.with_include(INI, "c")
    assert "cliquet.includes = a\n    b c\n" in edited
    assert wiring.with_include(edited, "c") == edited


def test_a_dependency_is_added_once():
    text = 'dependencies = [\n    "a",  # why\n]\n'
    edited = wiring.with_dependency(text, "b")
    assert edited == 'dependencies = [\n    "a",  # why\n    "b",\n]\n'
    assert wiring.with_dependency(edited, "b") == edited
    assert wiring.with_dependency('dependencies = ["a"]\n', "b") == 'dependencies = ["a", "b"]\n'


def test_every_option_has_help_and_a_shown_default():
    commands = [*cli.commands["add"].commands.values(), cli.commands["update"]]
    for command in commands:
        for option in command.params:
            if option.param_type_name == "option" and option.name != "help":
                assert option.help and option.show_default, f"{command.name} {option.name}"
