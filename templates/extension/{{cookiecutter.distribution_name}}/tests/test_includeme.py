"""The extension inside a cliquet service, as ``cliquet.includes`` brings it in."""

import colander
import pytest
from cliquet import resource
from cliquet.testing.web import basic_auth, build_app

import {{ cookiecutter.package_name }}

SETTINGS = {"cliquet.includes": "{{ cookiecutter.package_name }}"}
GREETING = "{{ cookiecutter.package_name }}.greeting"
URL = "/v1/{{ cookiecutter.__slug }}"


class NoteSchema(resource.ResourceSchema):
    text = colander.SchemaNode(colander.String())


class Note(resource.UserResource):
    """A tiny resource, so that there are changes to count."""

    schema = NoteSchema


def add_notes(config):
    resource.register_resource(config, Note, name="note")


@pytest.fixture
def app():
    return build_app(SETTINGS, setup=add_notes)


def test_service_answers_the_default_greeting(app):
    assert app.get(URL).json == {"greeting": "hello", "changes": {}}


def test_greeting_comes_from_the_settings():
    app = build_app({**SETTINGS, GREETING: "bonjour"})
    assert app.get(URL).json["greeting"] == "bonjour"


def test_environment_variable_wins_over_the_settings(monkeypatch):
    # The setting's name upper-cased, "." as "_".
    monkeypatch.setenv("{{ cookiecutter.package_name|upper }}_GREETING", "hi")
    app = build_app({**SETTINGS, GREETING: "bonjour"})
    assert app.get(URL).json["greeting"] == "hi"


def test_settings_are_named_after_the_package():
    package = {{ cookiecutter.package_name }}
    assert all(name.startswith(package.__name__ + ".") for name in package.DEFAULT_SETTINGS)


def test_capability_is_advertised_on_the_hello_view(app):
    capability = app.get("/v1/").json["capabilities"]["{{ cookiecutter.__slug }}"]
    assert capability["description"] == {{ cookiecutter.description|tojson }}
    assert capability["version"] == {{ cookiecutter.package_name }}.__version__
    assert capability["url"]


def test_subscriber_counts_committed_changes(app):
    headers = basic_auth("alice")
    created = app.post_json("/v1/notes", {"data": {"text": "one"}}, headers=headers).json
    app.post_json("/v1/notes", {"data": {"text": "two"}}, headers=headers)
    app.patch_json(f"/v1/notes/{created['data']['id']}", {"data": {"text": "1"}}, headers=headers)
    app.delete("/v1/notes", headers=headers)
    assert app.get(URL).json["changes"] == {"create": 2, "update": 1, "delete": 2}


def test_refused_writes_are_not_counted(app):
    app.post_json("/v1/notes", {"data": {}}, headers=basic_auth("alice"), status=400)
    assert app.get(URL).json["changes"] == {}


def test_config_include_works_too():
    def include(config):
        config.include("{{ cookiecutter.package_name }}")

    app = build_app(setup=include)
    assert app.get(URL).json["greeting"] == "hello"
