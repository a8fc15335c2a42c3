"""The example resource, ``/v1/articles``, through HTTP."""

from cliquet.testing.web import basic_auth

from {{ cookiecutter.package_name }} import __version__

ALICE = basic_auth("alice", "secret")
BOB = basic_auth("bob", "secret")


def test_hello_view_names_the_service(app):
    body = app.get("/v1/").json
    assert body["project_name"] == "{{ cookiecutter.project_name }}"
    assert body["project_version"] == __version__


def test_heartbeat_is_healthy(app):
    app.get("/v1/__heartbeat__", status=200)


def test_create_list_and_delete_an_article(app):
    article = {"title": "Hello", "body": "World"}
    created = app.post_json("/v1/articles", {"data": article}, headers=ALICE, status=201)
    record = created.json["data"]
    assert record["title"] == "Hello" and record["body"] == "World"

    listed = app.get("/v1/articles", headers=ALICE).json["data"]
    assert [r["id"] for r in listed] == [record["id"]]

    app.delete(f"/v1/articles/{record['id']}", headers=ALICE, status=200)
    assert app.get("/v1/articles", headers=ALICE).json["data"] == []


def test_body_is_optional(app):
    created = app.post_json("/v1/articles", {"data": {"title": "Short"}}, headers=ALICE)
    assert "body" not in created.json["data"]


def test_title_is_required(app):
    response = app.post_json("/v1/articles", {"data": {"body": "?"}}, headers=ALICE, status=400)
    assert response.json["errno"] == 107


def test_articles_are_private_to_their_author(app):
    app.post_json("/v1/articles", {"data": {"title": "Mine"}}, headers=ALICE, status=201)
    assert app.get("/v1/articles", headers=BOB).json["data"] == []


def test_anonymous_requests_are_refused(app):
    app.get("/v1/articles", status=401)
