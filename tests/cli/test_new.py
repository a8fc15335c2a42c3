"""``cliquet new``: the commands, and the library function they call (render)."""

import json
import pathlib
import re
import tempfile

import click
import pytest
from click.testing import CliRunner

from cliquet_cli.main import cli
from cliquet_cli.render import available_kinds, next_steps, render, template_dir

ROOT = pathlib.Path(__file__).parent.parent.parent


def run(*args, input=None):
    return CliRunner().invoke(cli, ["new", *args], input=input)


def entries(directory):
    return sorted(p.name for p in pathlib.Path(directory).iterdir())


# --- the templates ------------------------------------------------------------------------


def test_templates_are_found_through_the_installed_package():
    assert (template_dir("project") / "cookiecutter.json").is_file()
    assert "project" in available_kinds()


def test_help_lists_the_generators():
    result = run("--help")
    assert result.exit_code == 0
    for kind in ("project", "backend", "extension"):
        assert f"  {kind} " in result.output


def test_every_option_has_help_and_a_shown_default():
    for name in ("project", "backend", "extension"):
        for option in cli.commands["new"].commands[name].params:
            if isinstance(option, click.Option) and option.name != "help":
                assert option.help and option.show_default, f"{name} {option.name}"


def test_unknown_kind_is_a_clear_error(tmp_path):
    with pytest.raises(click.ClickException, match="No template named 'widget'"):
        render("widget", "x", output_dir=tmp_path, no_input=True)


# --- cliquet new project ------------------------------------------------------------------


def test_project_with_no_input(tmp_path):
    result = run("project", "myservice", "--no-input", "--output-dir", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert entries(tmp_path) == ["myservice"]
    assert (tmp_path / "myservice" / "myservice" / "views.py").is_file()
    assert f"Created project myservice in {tmp_path / 'myservice'}" in result.output
    assert "Next steps:" in result.output
    assert "pserve development.ini" in result.output


def test_output_dir_is_created(tmp_path):
    output = tmp_path / "a" / "b"
    result = run("project", "svc", "--no-input", "-o", str(output))
    assert result.exit_code == 0, result.output
    assert entries(output) == ["svc"]


def test_name_is_slugged_into_the_package_name(tmp_path):
    result = run("project", "my-service", "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "my-service" / "my_service" / "__init__.py").is_file()


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("1abc", "starting with a letter"),
        ("my service", "use ASCII letters, digits"),
        ("x-", "use ASCII letters, digits"),
        ("a/b", "use ASCII letters, digits"),
        ("café", "use ASCII letters, digits"),
        ("", "use ASCII letters, digits"),
        ("class", "a Python keyword"),
        ("json", "already taken by the standard library"),
        ("cliquet", "already taken by"),
    ],
)
def test_invalid_names_are_refused_and_nothing_is_written(tmp_path, name, reason):
    output = tmp_path / "out"
    result = run("project", name, "--no-input", "-o", str(output))
    assert result.exit_code == 2
    assert reason in result.output
    assert not output.exists()


@pytest.mark.parametrize(
    ("kind", "name", "package"),
    [
        ("project", "test", "test"),  # importable (the standard library's tests), not stdlib
        ("project", "json", "json"),
        ("project", "click", "click"),  # installed beside cliquet
        ("backend", "cli", "cliquet_cli"),
        ("extension", "cli", "cliquet_cli"),
    ],
)
def test_a_name_shadowing_an_importable_module_is_refused(tmp_path, kind, name, package):
    result = run(kind, name, "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 2, result.output
    (error,) = [line for line in result.output.splitlines() if line.startswith("Error")]
    assert f"Invalid value for NAME: {name!r} becomes the Python package {package!r}" in error
    assert "already taken" in error
    assert entries(tmp_path) == []


def test_a_package_name_set_to_an_importable_module_is_refused(tmp_path):
    result = run(
        "project", "svc", "--no-input", "-o", str(tmp_path), "--set", "package_name=click"
    )
    assert result.exit_code == 2
    assert "'click' is already taken by " in result.output
    assert entries(tmp_path) == []


@pytest.mark.parametrize("kind", ["project", "backend", "extension"])
@pytest.mark.parametrize("name", ["9lives", "my-$name", "", "café", "two words", "x-", "x.", "_x"])
def test_every_generator_judges_a_name_alike(tmp_path, kind, name):
    """One rule for every kind (the backend and extension hooks had rules of their own)."""
    result = run(kind, name, "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 2
    assert f"Invalid value for NAME: {name!r} cannot name a {kind}: use ASCII" in result.output
    assert entries(tmp_path) == []


@pytest.mark.parametrize("kind", ["project", "backend", "extension"])
def test_generation_leaves_nothing_in_the_temporary_folder(tmp_path, monkeypatch, kind):
    """Cookiecutter writes each rendered hook script there and never removes it."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    for _ in range(2):
        result = run(kind, "riak", "--no-input", "--force", "-o", str(tmp_path / "out"))
        assert result.exit_code == 0, result.output
    assert list(scratch.iterdir()) == []
    assert list(home.iterdir()) == []  # no replay file (~/.cookiecutter_replay) either


def test_existing_directory_is_refused_without_force(tmp_path):
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "notes.txt").write_text("mine")
    result = run("project", "svc", "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 1
    assert "already exists; pass --force" in result.output
    assert entries(tmp_path / "svc") == ["notes.txt"]
    assert entries(tmp_path) == ["svc"]


def test_set_chooses_template_options(tmp_path):
    result = run(
        "project",
        "svc",
        "--no-input",
        "-o",
        str(tmp_path),
        "--set",
        "production_cache=postgresql",
        "--set",
        "package_name=svc_core",
    )
    assert result.exit_code == 0, result.output
    assert (
        "cliquet.cache_backend = cliquet.cache.postgresql"
        in (tmp_path / "svc" / "production.ini").read_text()
    )
    assert (tmp_path / "svc" / "svc_core" / "__init__.py").is_file()


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("colour=blue", "has no variable 'colour' (its variables: package_name, production_cache"),
        ("production_cache=mysql", "invalid choice; choose one of redis, postgresql"),
        ("project_name=other", "give the project name as the NAME argument"),
        ("package_name=2pkg", "package name '2pkg' is not a Python identifier"),
        ("package_name=os", "'os' is already taken"),
    ],
)
def test_bad_set_values_are_refused(tmp_path, option, message):
    result = run("project", "svc", "--no-input", "-o", str(tmp_path), "--set", option)
    assert result.exit_code == 2
    assert message in result.output
    assert entries(tmp_path) == []


def test_set_needs_key_equals_value(tmp_path):
    result = run("project", "svc", "--no-input", "-o", str(tmp_path), "--set", "oops")
    assert result.exit_code == 2
    assert "'oops' is not KEY=VALUE" in result.output


def test_prompts_by_default(tmp_path):
    # Package name changed, second cache choice; the NAME argument is not asked again.
    result = run("project", "svc", "-o", str(tmp_path), input="svc_api\n2\n")
    assert result.exit_code == 0, result.output
    assert "Python package name" in result.output
    assert "Project name" not in result.output
    assert entries(tmp_path) == ["svc"]
    assert (tmp_path / "svc" / "svc_api" / "views.py").is_file()
    assert "cliquet.cache.postgresql" in (tmp_path / "svc" / "production.ini").read_text()


def test_a_choice_may_be_answered_by_its_value(tmp_path):
    result = run("project", "svc", "-o", str(tmp_path), input="\npostgresql\n")
    assert result.exit_code == 0, result.output
    assert "cliquet.cache.postgresql" in (tmp_path / "svc" / "production.ini").read_text()


def test_an_answer_typed_at_a_prompt_is_validated_and_asked_again(tmp_path):
    result = run("project", "svc", "-o", str(tmp_path), input="2pkg\nos\nsvc_api\n\n")
    assert result.exit_code == 0, result.output
    assert "package name '2pkg' is not a Python identifier" in result.output
    assert "'os' is already taken" in result.output
    assert (tmp_path / "svc" / "svc_api" / "views.py").is_file()


def test_name_and_kind_given_on_the_command_line_are_not_asked_again(tmp_path):
    # The session: the blank line and the "2" once chose the name and the kind.
    result = run("backend", "kk", "--kind", "cache", "-o", str(tmp_path), input="\n2\n\n\n\n\n")
    assert result.exit_code == 0, result.output
    assert entries(tmp_path) == ["cliquet-kk"]
    assert entries(tmp_path / "cliquet-kk" / "cliquet_kk") == ["__init__.py", "cache.py"]
    assert "Backend name" not in result.output
    assert "contract" not in result.output


def test_set_values_are_not_asked_again(tmp_path):
    result = run(
        "project", "svc", "-o", str(tmp_path), "--set", "production_cache=postgresql", input="\n"
    )
    assert result.exit_code == 0, result.output
    assert "Cache of production.ini" not in result.output
    assert "cliquet.cache.postgresql" in (tmp_path / "svc" / "production.ini").read_text()


@pytest.mark.parametrize(("kind", "options"), [("backend", []), ("extension", [])])
def test_backend_and_extension_prompts_read_as_sentences(tmp_path, kind, options):
    result = run(kind, "riak", "-o", str(tmp_path), *options, input="\n" * 10)
    assert result.exit_code == 0, result.output
    prompts = result.output.split("Created", 1)[0]
    assert "Python package name" in prompts
    for key in json.loads((template_dir(kind) / "cookiecutter.json").read_text()):
        assert key not in prompts, key


@pytest.mark.parametrize("kind", ["project", "backend", "extension"])
def test_help_lists_the_set_keys_with_their_defaults_and_choices(kind):
    result = run(kind, "--help")
    assert result.exit_code == 0
    flat = " ".join(result.output.split())
    variables = json.loads((template_dir(kind) / "cookiecutter.json").read_text())
    for key, default in variables.items():
        if key.startswith("_") or key == f"{kind}_name":
            continue
        assert re.search(rf"^ +{key} ", result.output, re.MULTILINE), key
        if isinstance(default, list):
            assert f"[one of {', '.join(default)}; default: {default[0]}]" in flat
        elif "{{" not in default:
            assert f"[default: {default}]" in flat


def test_help_shows_a_derived_default_by_example():
    flat = " ".join(run("backend", "--help").output.split())
    assert "[default: derived from NAME, e.g. cliquet_my_name for NAME my-name]" in flat


def test_existing_directory_is_refused_before_prompting(tmp_path):
    (tmp_path / "svc").mkdir()
    result = run("project", "svc", "-o", str(tmp_path), input="")
    assert result.exit_code == 1
    assert "Python package name" not in result.output


def test_the_template_does_not_print_next_steps_twice(tmp_path, capfd):
    run("project", "svc", "--no-input", "-o", str(tmp_path))
    assert "Next steps" not in capfd.readouterr().out  # the hook's, on the real stdout


# --- generic templates, failures ----------------------------------------------------------


def test_any_kind_of_template_renders(widget_templates, tmp_path):
    out = tmp_path / "out"
    path = render("widget", "gizmo", output_dir=out, extra_context={"size": "3"}, no_input=True)
    assert path == out / "gizmo"
    assert (path / "size.txt").read_text() == "3\n"
    assert entries(out) == ["gizmo"]


def test_a_template_error_leaves_nothing_behind(widget_templates, tmp_path):
    (widget_templates / "{{cookiecutter.widget_name}}" / "broken.txt").write_text(
        "{{ cookiecutter.missing }}"
    )
    out = tmp_path / "out"
    with pytest.raises(click.ClickException, match="missing"):
        render("widget", "gizmo", output_dir=out, no_input=True)
    assert not out.exists()


def test_a_failing_hook_leaves_an_existing_directory_untouched(widget_templates, tmp_path):
    (widget_templates / "hooks").mkdir()
    (widget_templates / "hooks" / "post_gen_project.py").write_text("raise SystemExit(1)\n")
    out = tmp_path / "out"
    (out / "gizmo").mkdir(parents=True)
    (out / "gizmo" / "size.txt").write_text("old\n")
    with pytest.raises(click.ClickException, match="The template refused these options"):
        render("widget", "gizmo", output_dir=out, no_input=True, force=True)
    assert entries(out) == ["gizmo"]
    assert (out / "gizmo" / "size.txt").read_text() == "old\n"


def test_a_directory_outside_the_output_dir_is_refused(widget_templates, tmp_path):
    (widget_templates / "{{cookiecutter.widget_name}}").rename(
        widget_templates / "{{cookiecutter.size}}"
    )
    out = tmp_path / "out"
    with pytest.raises(click.ClickException, match="must be a plain directory name"):
        render("widget", "gizmo", output_dir=out, extra_context={"size": "../x"}, no_input=True)
    assert entries(tmp_path) == ["templates"]


# --- backend and extension ----------------------------------------------------------------


def _needs(kind):
    if not (ROOT / "templates" / kind / "cookiecutter.json").is_file():
        pytest.skip(f"templates/{kind} is not there yet")


@pytest.mark.parametrize("kind", ["cache", "storage", "permission"])
def test_backend_kind_option(tmp_path, kind):
    _needs("backend")
    result = run("backend", "riak", "--kind", kind, "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cliquet-riak" / "cliquet_riak" / f"{kind}.py").is_file()
    assert f"cliquet.{kind}_backend = cliquet_riak.{kind}" in result.output


def test_backend_kind_is_a_choice(tmp_path):
    result = run("backend", "riak", "--kind", "queue", "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 2
    assert "'queue' is not one of 'cache', 'storage', 'permission'" in result.output


def test_extension(tmp_path):
    _needs("extension")
    result = run("extension", "stats", "--no-input", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cliquet-stats" / "cliquet_stats" / "__init__.py").is_file()
    assert "cliquet.includes = cliquet_stats" in result.output


def test_next_steps_of_a_project(tmp_path):
    path = render("project", "svc", output_dir=tmp_path, no_input=True)
    assert next_steps("project", path).splitlines() == [
        "Next steps:",
        f"  cd {path}",
        "  pip install -e '.[test]'",
        "  python -m pytest",
        "  pserve development.ini        # serves http://localhost:8888/v1/",
    ]
