"""The README is documentation users rely on: keep it in step with the code."""

import pathlib
import re

import pytest

from cliquet.settings import DEFAULT_SETTINGS, SETTING_DOCS, env_variable_name

README = (pathlib.Path(__file__).parent.parent / "README.md").read_text()
ROWS = {
    m.group(1): (m.group(2), m.group(3))
    for m in re.finditer(r"^\| `([\w.]+)` \| (.+?) \| `(\w+)` \|", README, re.MULTILINE)
}


@pytest.mark.parametrize("name", sorted(DEFAULT_SETTINGS))
def test_every_setting_is_in_the_readme_table_with_its_env_variable(name):
    assert name in ROWS, f"{name} missing from the README settings table"
    default_cell, env_cell = ROWS[name]
    assert env_cell == env_variable_name(name)
    default = DEFAULT_SETTINGS[name]
    if isinstance(default, bool):
        assert default_cell == f"`{str(default).lower()}`"
    elif isinstance(default, (int, str)) and default != "":
        assert default_cell == f"`{default}`"


def test_every_documented_setting_exists():
    assert set(SETTING_DOCS) == set(DEFAULT_SETTINGS)
    for name in ROWS:
        if name.startswith(("cliquet.", "multiauth.")):
            assert name in DEFAULT_SETTINGS, f"README documents unknown setting {name}"


def test_readme_starts_with_the_two_commands():
    commands = re.findall(r"```sh\n(.+?)\n```", README)
    assert commands[0] == (
        "pip install -e . && cliquet new project myservice --no-input && pip install -e myservice"
        " && cd myservice && pserve development.ini"
    )
    assert commands[1] == "pip install -e '.[dev]' && python -m pytest"


def test_ci_runs_the_readme_test_command():
    ci = (pathlib.Path(__file__).parent.parent / ".ci" / "run").read_text()
    assert "pip install --quiet --disable-pip-version-check -e '.[dev]'" in ci
    assert "python3 -m pytest" in ci


def test_command_line_section_shows_a_session_of_each_generator(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from cliquet_cli.main import cli

    section = README.split("## Command line", 1)[1].split("\n## ", 1)[0]
    for kind in ("project", "backend", "extension"):
        assert f"$ cliquet new {kind} " in section
    # The project's session shows what the command prints.
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["new", "project", "myservice", "--no-input"])
    assert result.exit_code == 0, result.output
    assert result.output in section
