"""A generated project's production.ini switched to a provider, as its README says."""

import configparser
import importlib
import pathlib
import sys

import pytest
import webtest
from cookiecutter.main import cookiecutter
from pyramid.exceptions import ConfigurationError

from tests.openid.conftest import CLIENT_ID, bearer

TEMPLATE = pathlib.Path(__file__).parents[2] / "templates" / "project"


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """The baked project ``oidc-svc``: its directory and its application factory."""
    output = tmp_path_factory.mktemp("generated")
    directory = pathlib.Path(
        cookiecutter(
            str(TEMPLATE),
            no_input=True,
            output_dir=str(output),
            extra_context={"project_name": "oidc-svc"},
        )
    )
    sys.path.insert(0, str(directory))
    try:
        yield directory, importlib.import_module("oidc_svc").main
    finally:
        sys.path.remove(str(directory))
        for name in [m for m in sys.modules if m == "oidc_svc" or m.startswith("oidc_svc.")]:
            del sys.modules[name]


def production_settings(directory, **overrides):
    """production.ini's [app:main], its provider lines uncommented as the README says."""
    text = (directory / "production.ini").read_text()
    switched = text.replace("\n# multiauth.policy", "\nmultiauth.policy").replace(
        "\n# multiauth.policies", "\nmultiauth.policies"
    )
    assert switched != text, "production.ini holds no provider lines to uncomment"
    parser = configparser.ConfigParser(defaults={"here": str(directory)})
    parser.read_string(switched)
    section = dict(parser.items("app:main"))
    settings = {k: v for k, v in section.items() if k != "use" and k not in parser.defaults()}
    return {**settings, **overrides}


@pytest.fixture
def production_environment(monkeypatch):
    database = "postgresql://user:password@db.invalid/oidc_svc"
    for name in ("STORAGE", "PERMISSION", "CACHE"):
        monkeypatch.setenv(f"CLIQUET_{name}_URL", database)
    # The verdicts are cached: on memory here, so that no database is needed to serve /v1/.
    monkeypatch.setenv("CLIQUET_CACHE_BACKEND", "cliquet.cache.memory")
    monkeypatch.setenv("MULTIAUTH_POLICY_MYPROVIDER_CLIENT_SECRET", "from-the-environment")


def test_production_on_a_provider_starts_without_a_secret(
    project, provider, production_environment
):
    directory, main = project
    settings = production_settings(
        directory,
        **{
            "multiauth.policy.myprovider.issuer": provider.issuer,
            "multiauth.policy.myprovider.audience": CLIENT_ID,
        },
    )
    assert settings["cliquet.userid_hmac_secret"] == ""
    app = webtest.TestApp(main({}, **settings))
    token = provider.tokens("alice")["id_token"]
    assert app.get("/v1/", headers=bearer(token)).json["user"] == {"id": "myprovider:alice"}
    # Basic auth is off: a pair is nobody.
    response = app.get("/v1/articles", headers={"Authorization": "Basic YTpi"}, status=401)
    assert response.json["errno"] == 104


def test_production_with_basic_auth_back_needs_the_secret(project, production_environment):
    directory, main = project
    settings = production_settings(directory, **{"multiauth.policies": "myprovider basicauth"})
    with pytest.raises(ConfigurationError, match="userid_hmac_secret"):
        main({}, **settings)
