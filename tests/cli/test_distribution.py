"""The distribution is `cliquet-kit`; generated packages require a range holding this one."""

import json
from importlib.metadata import distribution, version
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import cliquet
from cliquet_cli import distribution as dist
from cliquet_cli.render import render

ROOT = Path(__file__).resolve().parent.parent.parent
KINDS = {
    "project": ["shop"],
    "backend": ["memo"],
    "extension": ["stats"],
}


def test_installed_distribution_is_cliquet_kit_and_holds_the_cliquet_package():
    installed = distribution("cliquet-kit")
    assert installed.version == cliquet.__version__
    assert ["cliquet = cliquet_cli.main:cli"] == [
        f"{e.name} = {e.value}" for e in installed.entry_points if e.group == "console_scripts"
    ]
    assert dist.installed_version() == version("cliquet-kit")


@pytest.mark.parametrize(
    ("installed", "expected"),
    [
        ("0.1.0.dev0", "cliquet-kit>=0.1.0.dev0,<0.2"),
        ("0.1.0", "cliquet-kit>=0.1.0,<0.2"),
        ("0.1.3rc1", "cliquet-kit>=0.1.3rc1,<0.2"),
        ("1.4.2", "cliquet-kit>=1.4.2,<1.5"),
        ("2", "cliquet-kit>=2,<2.1"),
        # A local part (a checkout's build) cannot appear in a specifier.
        ("0.1.0.dev0+g1234", "cliquet-kit>=0.1.0.dev0,<0.2"),
    ],
)
def test_requirement_starts_at_the_installed_version_and_stops_at_the_next_minor(
    installed, expected
):
    assert dist.requirement(installed) == expected


@pytest.mark.parametrize("installed", ["0.1.0.dev0", "0.1.0", "0.4.2.dev3", "1.0.0rc1"])
def test_requirement_admits_the_installed_version_as_pip_reads_it(installed):
    specifier = Requirement(dist.requirement(installed)).specifier
    # Without prereleases=True: a pre-release is admitted only because the specifier names one.
    assert specifier.contains(installed)
    major, minor = (int(part) for part in installed.split(".")[:2])
    assert not specifier.contains(f"{major}.{minor + 1}.0.dev0", prereleases=True)
    assert not specifier.contains(f"{major}.{minor + 1}")


def test_requirement_refuses_what_is_not_a_version():
    with pytest.raises(ValueError, match="not a PEP 440 version"):
        dist.requirement("tuesday")


@pytest.mark.parametrize("kind", list(KINDS))
def test_generated_package_requires_the_range_of_the_installed_version(
    kind, tmp_path, monkeypatch
):
    tomllib = pytest.importorskip("tomllib")
    monkeypatch.setattr(dist, "installed_version", lambda: "0.3.1.dev4")
    target = render(kind, *KINDS[kind], output_dir=tmp_path, no_input=True)
    pyproject = tomllib.loads((target / "pyproject.toml").read_text(encoding="utf-8"))
    requirements = [Requirement(r) for r in pyproject["project"]["dependencies"]]
    assert [str(r) for r in requirements if r.name == "cliquet-kit"] == [
        "cliquet-kit<0.4,>=0.3.1.dev4"
    ]
    assert "cliquet" not in {r.name for r in requirements}
    readme = (target / "README.md").read_text(encoding="utf-8")
    assert "cliquet-kit>=0.3.1.dev4,<0.4" in readme
    assert "--find-links" in readme


@pytest.mark.parametrize("kind", list(KINDS))
def test_plain_cookiecutter_defaults_admit_this_version(kind):
    """`cookiecutter templates/KIND` (no `cliquet new`) takes cookiecutter.json's range."""
    variables = json.loads((ROOT / "templates" / kind / "cookiecutter.json").read_text())
    requirement = Requirement(variables["_cliquet_requirement"])
    assert requirement.name == "cliquet-kit"
    assert requirement.specifier.contains(cliquet.__version__)


@pytest.mark.parametrize("kind", ["backend", "extension"])
def test_readme_says_how_to_install_into_a_service(kind, tmp_path):
    target = render(kind, *KINDS[kind], output_dir=tmp_path, no_input=True)
    readme = (target / "README.md").read_text(encoding="utf-8")
    assert "into the service's environment" in readme
    assert "python -m pip install -e ." in readme
    assert "cliquet-kit" in readme


@pytest.mark.parametrize("kind", list(KINDS))
def test_readmes_never_point_at_the_unrelated_2016_project(kind, tmp_path):
    target = render(kind, *KINDS[kind], output_dir=tmp_path, no_input=True)
    for path in target.rglob("*"):
        # .cliquet/ holds the render compressed (cliquet_cli.base), no text of its own.
        if path.is_file() and ".cliquet" not in path.relative_to(target).parts:
            text = path.read_text(encoding="utf-8")
            assert "mozilla-services/cliquet" not in text, path
            assert "project/cliquet/" not in text, path
