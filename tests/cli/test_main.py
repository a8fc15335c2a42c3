from click.testing import CliRunner

import cliquet
from cliquet_cli.main import cli


def test_version_is_the_package_version():
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"cliquet {cliquet.__version__}\n"


def test_help_lists_the_commands():
    result = CliRunner().invoke(cli, ["--help"], prog_name="cliquet")
    assert result.exit_code == 0
    assert "Usage: cliquet" in result.output
    assert "new" in result.output


def test_new_group_has_help():
    result = CliRunner().invoke(cli, ["new", "--help"])
    assert result.exit_code == 0
    assert "Generate a new project, backend or extension" in result.output


def test_unknown_command_is_a_clear_error():
    result = CliRunner().invoke(cli, ["frobnicate"])
    assert result.exit_code == 2
    assert "No such command 'frobnicate'" in result.output


def test_console_script_is_installed():
    import shutil
    import subprocess

    executable = shutil.which("cliquet")
    assert executable, "the `cliquet` console script is not on PATH (pip install -e .)"
    output = subprocess.run([executable, "--version"], capture_output=True, text=True, check=True)
    assert output.stdout.strip() == f"cliquet {cliquet.__version__}"
