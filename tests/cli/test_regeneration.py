"""Re-generating into an existing directory (``cliquet new ... --force``).

What identifies users and data (the secret, the answers) is kept; a file the user edited since
it was generated is never overwritten silently; the command says what it wrote and kept. The
record of what was generated is the project's ``.cliquet.json``.
"""

import configparser
import hashlib
import json

import click
import pytest
from click.testing import CliRunner

import cliquet
from cliquet import resource
from cliquet.testing.web import basic_auth, build_app
from cliquet_cli.main import cli
from cliquet_cli.render import generate, render


def run(*args, input=None):
    return CliRunner().invoke(cli, ["new", *args], input=input)


def app_settings(project):
    """The ``[app:main]`` settings of the project's development.ini, as pserve reads them."""
    parser = configparser.ConfigParser(defaults={"here": str(project)})
    parser.read(project / "development.ini")
    # Not cliquet.includes: it names the project's demo module, not importable from here.
    settings = parser["app:main"].items()
    return {k: v for k, v in settings if k.startswith("cliquet.") and k != "cliquet.includes"}


def files_of(project):
    return {
        p.relative_to(project).as_posix(): p.read_bytes()
        for p in project.rglob("*")
        if p.is_file()
    }


@pytest.fixture
def project(tmp_path):
    result = run("project", "svc", "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    return tmp_path / "svc"


def regenerate(project, *options, kind="project", name=None):
    return run(kind, name or project.name, "--no-input", "-o", str(project.parent), *options)


class Thing(resource.UserResource):
    pass


def service(project):
    """The service as development.ini configures it, with a ``things`` resource."""

    def setup(config):
        resource.register_resource(config, Thing, name="thing")

    return build_app(app_settings(project), setup=setup)


# --- what identifies users and data -------------------------------------------------------


def test_users_keep_their_records_after_force(project):
    app = service(project)
    for _ in range(17):
        app.post_json("/v1/things", {"data": {}}, headers=basic_auth())

    result = regenerate(project, "--force")
    assert result.exit_code == 0, result.output
    records = service(project).get("/v1/things", headers=basic_auth()).json["data"]
    assert len(records) == 17


def test_force_keeps_the_secret_and_says_so(project):
    before = app_settings(project)["cliquet.userid_hmac_secret"]
    result = regenerate(project, "--force")
    assert result.exit_code == 0, result.output
    assert app_settings(project)["cliquet.userid_hmac_secret"] == before
    assert "kept cliquet.userid_hmac_secret of development.ini" in result.output


def test_recorded_answers_are_kept(tmp_path):
    options = ("--set", "package_name=svc_core", "--set", "production_cache=postgresql")
    assert run("project", "svc", "--no-input", "-o", str(tmp_path), *options).exit_code == 0
    project = tmp_path / "svc"
    before = files_of(project)
    result = regenerate(project, "--force")
    assert result.exit_code == 0, result.output
    assert files_of(project) == before
    assert not (project / "svc").exists()
    assert "package_name=svc_core" in result.output


def test_an_explicit_option_changes_a_recorded_answer(tmp_path):
    assert run("project", "svc", "--no-input", "-o", str(tmp_path)).exit_code == 0
    project = tmp_path / "svc"
    result = regenerate(project, "--force", "--set", "production_cache=postgresql")
    assert result.exit_code == 0, result.output
    assert "cliquet.cache.postgresql" in (project / "production.ini").read_text()
    assert "wrote" in result.output and "production.ini" in result.output


# --- edited files ---------------------------------------------------------------------------


def test_edited_files_are_refused_listed_and_left_alone(project):
    (project / "svc" / "views.py").write_text("mine\n")
    with (project / "development.ini").open("a") as ini:
        ini.write("\n# my note\n")
    (project / "README.md").unlink()
    before = files_of(project)

    result = regenerate(project, "--force")
    assert result.exit_code == 1
    (error,) = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert "development.ini, svc/views.py" in error
    assert "--overwrite-edited" in error
    assert files_of(project) == before


def test_overwrite_edited_replaces_them_and_keeps_the_rest(project):
    secret = app_settings(project)["cliquet.userid_hmac_secret"]
    (project / "svc" / "views.py").write_text("mine\n")
    (project / "notes.txt").write_text("mine\n")

    result = regenerate(project, "--overwrite-edited")
    assert result.exit_code == 0, result.output
    assert "ArticleSchema" in (project / "svc" / "views.py").read_text()
    assert (project / "notes.txt").read_text() == "mine\n"
    assert app_settings(project)["cliquet.userid_hmac_secret"] == secret
    assert "svc/views.py (edited, overwritten)" in result.output
    assert "kept 1 file not from the template: notes.txt" in result.output


def test_without_a_record_a_differing_file_counts_as_edited(project):
    (project / ".cliquet.json").unlink()
    (project / "svc" / "views.py").write_text("mine\n")
    result = regenerate(project, "--force")
    assert result.exit_code == 1
    assert "svc/views.py" in result.output
    assert (project / "svc" / "views.py").read_text() == "mine\n"


def test_a_missing_file_is_written_again(project):
    (project / "README.md").unlink()
    result = regenerate(project, "--force")
    assert result.exit_code == 0, result.output
    assert (project / "README.md").is_file()
    assert "README.md (new)" in result.output


def test_an_unedited_file_follows_the_changed_template(widget_templates, tmp_path):
    out = tmp_path / "out"
    render("widget", "gizmo", output_dir=out, no_input=True)
    (widget_templates / "{{cookiecutter.widget_name}}" / "size.txt").write_text(
        "size {{ cookiecutter.size }}\n"
    )
    (widget_templates / "{{cookiecutter.widget_name}}" / "new.txt").write_text("new\n")
    result = generate("widget", "gizmo", output_dir=out, no_input=True, force=True)
    assert (out / "gizmo" / "size.txt").read_text() == "size 1\n"
    assert (out / "gizmo" / "new.txt").read_text() == "new\n"
    assert sorted(result.written) == ["new.txt", "size.txt"]


def test_refused_when_an_edit_and_a_template_change_meet(widget_templates, tmp_path):
    out = tmp_path / "out"
    render("widget", "gizmo", output_dir=out, no_input=True)
    (out / "gizmo" / "size.txt").write_text("mine\n")
    (widget_templates / "{{cookiecutter.widget_name}}" / "size.txt").write_text("2\n")
    with pytest.raises(click.ClickException, match="size.txt"):
        render("widget", "gizmo", output_dir=out, no_input=True, force=True)
    assert (out / "gizmo" / "size.txt").read_text() == "mine\n"


# --- the record ---------------------------------------------------------------------------


def test_the_record_holds_kind_version_answers_and_hashes(project):
    record = json.loads((project / ".cliquet.json").read_text())
    assert record["template"] == "project"
    assert record["cliquet_version"] == cliquet.__version__
    assert record["answers"] == {
        "project_name": "svc",
        "package_name": "svc",
        "production_cache": "redis",
    }
    on_disk = {
        name: "sha256:" + hashlib.sha256(data).hexdigest()
        for name, data in files_of(project).items()
        if name != ".cliquet.json" and not name.startswith(".cliquet/")
    }
    assert record["files"] == on_disk
    secret = app_settings(project)["cliquet.userid_hmac_secret"]
    assert secret not in (project / ".cliquet.json").read_text()


def test_backend_regeneration_keeps_its_kind(tmp_path):
    result = run("backend", "riak", "--kind", "storage", "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    project = tmp_path / "cliquet-riak"
    result = regenerate(project, "--force", kind="backend", name="riak")
    assert result.exit_code == 0, result.output
    assert (project / "cliquet_riak" / "storage.py").is_file()
    assert not (project / "cliquet_riak" / "cache.py").exists()


def test_a_malformed_record_is_a_clear_error(project):
    (project / ".cliquet.json").write_text("{")
    result = regenerate(project, "--force")
    assert result.exit_code == 1
    assert ".cliquet.json" in result.output
    assert "ArticleSchema" in (project / "svc" / "views.py").read_text()
