"""``cliquet update`` and ``cliquet add`` against hostile records and careless users.

A package's ``.cliquet.json`` and ``.cliquet/base.tar.gz`` come with the repository: a clone
may hold anything in them. Whatever they say, nothing is written outside the package, no
traceback is shown, and the refusal is one line.
"""

import gzip
import io
import json
import os
import re
import stat
import tarfile

import pytest
import tomllib

from cliquet_cli import merging, regeneration
from cliquet_cli.provenance import digest_bytes
from tests.cli.test_update import files_of, fresh, old_project, older_cliquet, run

__all__ = ["fresh", "old_project", "older_cliquet"]  # fixtures, used by name

UPDATE = ("--no-input", "--allow-dirty")


def tree(directory):
    """Every entry under ``directory``: its kind, mode, mtime and bytes (or link target)."""
    entries = {}
    for path in sorted(directory.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            content = os.readlink(path)
        elif path.is_file():
            content = path.read_bytes()
        else:
            content = None
        entries[path.relative_to(directory).as_posix()] = (info.st_mode, info.st_mtime_ns, content)
    return entries


def refused(result):
    """The command failed with one ``Error:`` line and no traceback."""
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.output.startswith("Error: ") and result.output.count("\n") == 1, result.output
    return result.output


def rewrite_record(project, change):
    path = project / ".cliquet.json"
    record = json.loads(path.read_text())
    change(record)
    path.write_text(json.dumps(record))


# --- A record that points outside the package ------------------------------------------


def test_a_part_outside_the_package_is_refused(tmp_path, old_project):
    """A clone whose record lists ``../other`` must not update a neighbour package."""
    neighbour = tmp_path / "old" / "other"
    assert (
        run("new", "extension", "other", "--no-input", "-o", str(neighbour.parent)).exit_code == 0
    )
    generated = tmp_path / "old" / "cliquet-other"
    before = tree(generated)
    rewrite_record(old_project, lambda r: r.update(parts=["../cliquet-other"]))

    assert "../cliquet-other" in refused(run("update", str(old_project), *UPDATE))
    assert tree(generated) == before


@pytest.mark.parametrize("part", ["/etc", ".", "svc/../..", ""])
def test_parts_that_are_not_a_subdirectory_are_refused(old_project, part):
    rewrite_record(old_project, lambda r: r.update(parts=[part]))
    refused(run("update", str(old_project), *UPDATE))


def test_a_recorded_name_cannot_render_outside_the_package(tmp_path, old_project):
    rewrite_record(old_project, lambda r: r["answers"].update(project_name="../../evil"))
    before = sorted(p.name for p in (tmp_path / "old").iterdir())

    assert ".cliquet.json" in refused(run("update", str(old_project), *UPDATE))
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == before
    assert not (tmp_path / "evil").exists()


def test_a_bad_recorded_package_name_names_the_record(old_project):
    rewrite_record(old_project, lambda r: r["answers"].update(package_name="os"))
    assert ".cliquet.json" in refused(run("update", str(old_project), *UPDATE))


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r.update(parts="cliquet-stats"),
        lambda r: r.update(files=[["a", "b"]]),
        lambda r: r.update(answers={"project_name": ["svc"]}),
        lambda r: r.update(template=3),
    ],
    ids=["parts-a-string", "files-a-list", "answer-a-list", "template-a-number"],
)
def test_a_record_of_the_wrong_shape_is_refused(old_project, change):
    rewrite_record(old_project, change)
    assert ".cliquet.json" in refused(run("update", str(old_project), *UPDATE))


def test_a_symlinked_directory_is_not_written_through(tmp_path, old_project):
    elsewhere = tmp_path / "elsewhere"
    (old_project / "svc").rename(elsewhere)
    (old_project / "svc").symlink_to(elsewhere)
    before = tree(elsewhere)

    assert "symbolic link" in refused(run("update", str(old_project), *UPDATE))
    assert tree(elsewhere) == before


# --- A crafted or damaged base ----------------------------------------------------------


def crafted_base(project, members):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for info, data in members:
            archive.addfile(info, data)
    (project / ".cliquet" / "base.tar.gz").write_bytes(buffer.getvalue())


class Zeros(io.RawIOBase):
    """``size`` zero bytes, never held in memory at once."""

    def __init__(self, size):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        count = min(len(buffer), self.left)
        buffer[:count] = bytes(count)
        self.left -= count
        return count


def test_a_base_that_inflates_without_end_is_not_read(old_project, monkeypatch):
    """A few kilobytes of gzip that inflate to a gigabyte: the base is left unread."""
    from cliquet_cli import base

    info = tarfile.TarInfo("README.md")
    info.size = 64 * 1024 * 1024
    crafted_base(old_project, [(info, io.BufferedReader(Zeros(info.size)))])
    read = []
    monkeypatch.setattr(tarfile.ExFileObject, "read", lambda self, *a: read.append(a) or b"")
    assert base.read(old_project, base.provenance.read(old_project)) == {}
    assert not read


@pytest.mark.parametrize(
    "name, kind",
    [
        ("../../../../pwned", tarfile.REGTYPE),
        ("/tmp/pwned-by-cliquet", tarfile.REGTYPE),
        ("README.md", tarfile.SYMTYPE),
        ("README.md", tarfile.LNKTYPE),
        ("README.md", tarfile.CHRTYPE),
    ],
)
def test_crafted_base_members_are_never_written(tmp_path, old_project, name, kind):
    data = b"pwned\n"
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = "/etc/passwd" if kind in (tarfile.SYMTYPE, tarfile.LNKTYPE) else ""
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    crafted_base(old_project, [(info, io.BytesIO(data) if info.size else None)])
    rewrite_record(old_project, lambda r: r["files"].update({name: digest_bytes(data)}))
    outside = tree(tmp_path / "old" / "..")

    result = run("update", str(old_project), *UPDATE)
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert not os.path.lexists("/tmp/pwned-by-cliquet")
    assert not (old_project / "README.md").is_symlink()
    now = tree(tmp_path / "old" / "..")
    assert {k for k in now if not k.startswith("old/")} == {
        k for k in outside if not k.startswith("old/")
    }


def test_without_a_base_a_file_the_template_did_not_change_is_kept(old_project):
    """The record's hashes say what was rendered: no base needed to see the template's side."""
    (old_project / ".cliquet" / "base.tar.gz").unlink()
    with open(old_project / "tests" / "test_configuration.py", "a") as f:
        f.write("# Mine.\n")
    mine = (old_project / "tests" / "test_configuration.py").read_bytes()

    result = run("update", str(old_project), *UPDATE)
    assert result.exit_code == 0, result.output
    assert re.search(r"kept your edits .*tests/test_configuration\.py", result.output)
    assert (old_project / "tests" / "test_configuration.py").read_bytes() == mine


# --- Careless users ----------------------------------------------------------------------


def crlf(path):
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))


def test_crlf_files_are_merged_as_text_and_stay_crlf(old_project, fresh):
    """A Windows checkout (core.autocrlf): every line differs in bytes, none in text."""
    for name in ("README.md", "development.ini", "svc/views.py"):
        crlf(old_project / name)

    result = run("update", str(old_project), *UPDATE)
    assert result.exit_code == 0, result.output
    for name in ("README.md", "development.ini", "svc/views.py"):
        data = (old_project / name).read_bytes()
        assert without_secret(data.replace(b"\r\n", b"\n")) == without_secret(
            (fresh / name).read_bytes()
        ), name
        assert b"\n" not in data.replace(b"\r\n", b""), name


def without_secret(data):
    return re.sub(rb"userid_hmac_secret = \S+", b"", data)


def test_crlf_edits_merge_with_the_template(old_project):
    views = old_project / "svc" / "views.py"
    views.write_text(views.read_text() + "# Mine.\n")
    crlf(views)

    result = run("update", str(old_project), *UPDATE)
    assert result.exit_code == 0, result.output
    text = views.read_bytes()
    assert b"# Mine.\r\n" in text and b"cliquet adds" in text and b"<<<<<<<" not in text


def test_a_binary_file_gets_no_conflict_markers(old_project):
    readme = old_project / "README.md"
    readme.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00binary")

    result = run("update", str(old_project), *UPDATE)
    assert result.exit_code == 1, result.output
    assert readme.read_bytes() == b"\x89PNG\r\n\x1a\n\x00\x00binary"
    assert "README.md" in result.output and "binary" in result.output


def test_file_modes_are_kept(old_project):
    """``chmod +x`` (or a read-only file) is the user's, not the template's."""
    readme = old_project / "README.md"
    readme.chmod(0o755)
    result = run("update", str(old_project), *UPDATE)
    assert result.exit_code == 0, result.output
    assert "README.md" in result.output
    assert stat.S_IMODE(readme.stat().st_mode) == 0o755


def test_dry_run_writes_nothing_even_beside_the_package(tmp_path, old_project):
    (old_project / "svc" / "views.py").write_text(
        (old_project / "svc" / "views.py").read_text() + "# Mine.\n"
    )
    before = tree(tmp_path / "old")
    result = run("update", str(old_project), "--dry-run", *UPDATE)
    assert result.exit_code == 0, result.output
    assert tree(tmp_path / "old") == before


def test_an_update_stages_nothing_beside_the_package(tmp_path, old_project):
    parent = tmp_path / "old"
    os.utime(parent, ns=(0, 0))
    assert run("update", str(old_project), *UPDATE).exit_code == 0
    assert parent.stat().st_mtime_ns == 0
    assert sorted(p.name for p in parent.iterdir()) == ["svc"]


def test_an_update_interrupted_midway_leaves_the_package_as_it_was(old_project, monkeypatch):
    before = files_of(old_project)
    replaced = []
    real = os.replace

    def failing(source, destination):
        if replaced:
            raise KeyboardInterrupt
        replaced.append(destination)
        real(source, destination)

    monkeypatch.setattr(regeneration.os, "replace", failing)
    result = run("update", str(old_project), *UPDATE)
    monkeypatch.setattr(regeneration.os, "replace", real)
    assert result.exit_code != 0 and replaced, result.output
    assert files_of(old_project) == before


# --- The secret --------------------------------------------------------------------------


def secret_lines(project):
    return re.findall(r"^.*userid_hmac_secret.*$", (project / "development.ini").read_text(), re.M)


@pytest.mark.parametrize("how", ["removed", "commented out"])
def test_a_secret_moved_to_the_environment_is_not_put_back(old_project, how):
    ini = old_project / "development.ini"
    (line,) = secret_lines(old_project)
    ini.write_text(ini.read_text().replace(line + "\n", "" if how == "removed" else f"# {line}\n"))
    wanted = secret_lines(old_project)

    for _ in range(2):
        result = run("update", str(old_project), *UPDATE)
        assert result.exit_code == 0, result.output
        assert secret_lines(old_project) == wanted
        assert "<<<<<<<" not in ini.read_text()


# --- cliquet add: names that clash -------------------------------------------------------


def test_an_extension_cannot_take_the_service_package(tmp_path):
    assert run("new", "project", "cliquet_stats", "--no-input", "-o", str(tmp_path)).exit_code == 0
    project = tmp_path / "cliquet_stats"
    before = files_of(project)
    result = run("add", "extension", "stats", "--no-input", "-C", str(project))
    assert "cliquet_stats" in refused(result)
    assert files_of(project) == before


@pytest.fixture
def service_with_a(tmp_path):
    """``svc`` with the extension ``a`` added; its files as they are then."""
    assert run("new", "project", "svc", "--no-input", "-o", str(tmp_path)).exit_code == 0
    project = tmp_path / "svc"
    assert run("add", "extension", "a", "--no-input", "-C", str(project)).exit_code == 0
    return project, files_of(project)


def test_two_parts_cannot_share_a_package(service_with_a):
    project, before = service_with_a
    add = ("add", "extension", "b", "--no-input", "-C", str(project))
    assert "cliquet_a" in refused(run(*add, "--set", "package_name=cliquet_a"))
    assert files_of(project) == before


def test_adding_twice_does_not_suggest_an_option_add_lacks(service_with_a):
    project, before = service_with_a
    result = run("add", "extension", "a", "--no-input", "-C", str(project))
    assert "--force" not in refused(result)
    assert files_of(project) == before


def test_merge_file_of_binary_sides_is_not_clean():
    merged, clean = merging.merge_file(b"a\x00b\n", b"base\n", b"theirs\n")
    assert not clean and merged == b"a\x00b\n"


def test_base_archive_reads_plain_members_only(tmp_path):
    from cliquet_cli import base

    assert base.read(tmp_path, None) == {}
    (tmp_path / ".cliquet").mkdir()
    (tmp_path / ".cliquet" / "base.tar.gz").write_bytes(gzip.compress(b"not a tar"))
    assert base.read(tmp_path, None) == {}


# --- Recorded answers: what they may hold ----------------------------------------------


@pytest.mark.parametrize("value", [5, "memcached", True])
def test_a_recorded_answer_outside_its_choices_is_refused(old_project, value):
    assert run("update", str(old_project), *UPDATE).exit_code == 0
    rewrite_record(old_project, lambda r: r["answers"].update(production_cache=value))
    before = tree(old_project)

    line = refused(run("update", str(old_project), *UPDATE))
    assert ".cliquet.json" in line and "production_cache" in line
    assert "redis" in line and "postgresql" in line
    assert tree(old_project) == before


def payload(path):
    """A Jinja expression that writes ``path`` when evaluated (through Jinja's own globals)."""
    write = f"open('{path}', 'w').write('pwned')"
    return "{{ cycler.__init__.__globals__.__builtins__." + write + " }}"


def description(package):
    return tomllib.loads((package / "pyproject.toml").read_text())["project"]["description"]


def test_a_recorded_answer_is_not_evaluated_as_a_template(tmp_path):
    assert run("new", "extension", "ext", "--no-input", "-o", str(tmp_path)).exit_code == 0
    package = tmp_path / "cliquet-ext"
    pwned = tmp_path / "pwned"
    text = f"Mine {payload(pwned)} {{% if true %}}kept{{% endif %}} {{% endraw %}}{{# #}}"
    rewrite_record(package, lambda r: r["answers"].update(description=text))

    result = run("update", str(package), *UPDATE)
    assert not pwned.exists()
    assert result.exit_code == 0, result.output
    assert description(package) == text
    assert json.loads((package / ".cliquet.json").read_text())["answers"]["description"] == text


def test_a_set_value_is_rendered_literally(tmp_path):
    pwned = tmp_path / "pwned"
    text = f"A {{{{ cookiecutter.kind }}}} backend {payload(pwned)}"
    result = run(
        "new", "backend", "b", "--no-input", "-o", str(tmp_path), "--set", f"description={text}"
    )
    assert not pwned.exists()
    assert result.exit_code == 0, result.output
    assert description(tmp_path / "cliquet-b") == text


def test_a_kept_secret_is_not_evaluated_as_a_template(tmp_path, old_project):
    pwned = tmp_path / "pwned"
    secret = f"s{{% endraw %}}{payload(pwned)}{{% raw %}}"
    ini = old_project / "development.ini"
    ini.write_text(
        re.sub(r"(cliquet\.userid_hmac_secret = ).*", lambda m: m[1] + secret, ini.read_text())
    )

    run("update", str(old_project), *UPDATE)
    assert not pwned.exists()
    assert f"cliquet.userid_hmac_secret = {secret}\n" in ini.read_text()
