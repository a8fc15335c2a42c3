"""The service as its own ``main()`` builds it, on memory backends and on development.ini's."""

import configparser
import os
import pathlib

import pytest
import webtest

from {{ cookiecutter.package_name }} import main

ROOT = pathlib.Path(__file__).parent.parent


@pytest.fixture(autouse=True)
def _no_environment_overrides(monkeypatch):
    """CLIQUET_* variables of the shell would override the settings under test."""
    for name in list(os.environ):
        if name.startswith(("CLIQUET_", "MULTIAUTH_")):
            monkeypatch.delenv(name)


def _read_ini(name):
    # Read as PasteDeploy would, without needing the package installed.
    parser = configparser.ConfigParser(defaults={"here": str(ROOT)})
    parser.read(ROOT / name)
    section = dict(parser.items("app:main"))
    return {k: v for k, v in section.items() if k != "use" and k not in parser.defaults()}


@pytest.fixture
def ini_settings():
    """The settings of the ``[app:main]`` section of one of the project's .ini files."""
    return _read_ini


@pytest.fixture(params=["memory", "sqlite"])
def app(request, tmp_path):
    if request.param == "memory":
        settings = {"cliquet.userid_hmac_secret": "test-secret"}
    else:
        # development.ini itself, on databases of this test's own.
        settings = _read_ini("development.ini")
        settings["cliquet.storage_url"] = f"sqlite:///{tmp_path}/storage.db"
        settings["cliquet.permission_url"] = f"sqlite:///{tmp_path}/permission.db"
    return webtest.TestApp(main({}, **settings))
