import json

import pytest

from cliquet_cli import render as render_module


@pytest.fixture
def widget_templates(tmp_path, monkeypatch):
    """A templates directory with one ``widget`` kind; tests may change or break it."""
    root = tmp_path / "templates"
    template = root / "widget"
    (template / "{{cookiecutter.widget_name}}").mkdir(parents=True)
    (template / "cookiecutter.json").write_text(json.dumps({"widget_name": "w", "size": "1"}))
    (template / "{{cookiecutter.widget_name}}" / "size.txt").write_text(
        "{{ cookiecutter.size }}\n"
    )
    monkeypatch.setattr(render_module, "_templates_root", lambda: root)
    return template
