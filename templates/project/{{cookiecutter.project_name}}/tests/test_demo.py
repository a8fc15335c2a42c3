"""The demo page: served by development.ini's service, beside the JavaScript client it loads."""

import webtest

from {{ cookiecutter.package_name }} import main


def test_development_serves_the_demo_page_and_its_client(ini_settings, tmp_path):
    settings = ini_settings("development.ini")
    settings["cliquet.storage_url"] = f"sqlite:///{tmp_path}/storage.db"
    settings["cliquet.permission_url"] = f"sqlite:///{tmp_path}/permission.db"
    app = webtest.TestApp(main({}, **settings))
    page = app.get("/v1/__demo__/", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.content_type == "text/html"
    assert '<script src="../__client__/cliquet-client.js">' in page.text
    assert "Client" in app.get("/v1/__client__/cliquet-client.js").text


def test_production_has_no_demo_page(ini_settings):
    assert "demo" not in ini_settings("production.ini").get("cliquet.includes", "")
