"""The seed's indexing extension (ecosystem.rst, "Adding features"), written both ways.

1. As the seed shows: ``cliquet_indexing`` stores an indexer in the registry and serves
   ``/search/{collection_id}/``; a service's resources subclass its ``IndexedResource``,
   whose ``IndexedModel`` indexes created records (``tests/seed_packages/indexedproject``).
2. As the seed's note wishes: a plain ``cliquet.events`` subscriber indexes the records of
   any resource, no base class needed.
"""

import json

import pytest
import webtest
from pyramid.config import Configurator

import cliquet
from cliquet.events import AfterResourceChanged
from cliquet.testing.web import TEST_SETTINGS, basic_auth, build_app

INDEXING = {"cliquet.indexing_backend": "cliquet_indexing.elasticsearch"}


def search(app, collection_id, query=None, **kwargs):
    body = json.dumps(query).encode() if query is not None else b""
    # A body that is not declared JSON is refused (415): a browser form cannot search.
    return app.post(
        f"/v1/search/{collection_id}/", body, content_type="application/json", **kwargs
    )


def hits(response):
    return [hit["_source"] for hit in response.json["hits"]["hits"]]


# Inclusion


def test_included_through_the_setting(seed_packages):
    from cliquet_indexing.elasticsearch import Indexer

    app = build_app({"cliquet.includes": "cliquet_indexing", **INDEXING})
    indexer = app.app.registry.indexer
    assert isinstance(indexer, Indexer)
    assert search(app, "anything").json == {"hits": {"total": 0, "hits": []}}


def test_included_by_config_include(seed_packages):
    app = build_app(INDEXING, setup=lambda config: config.include("cliquet_indexing"))
    assert app.app.registry.indexer.client.hosts == ["localhost:9200"]
    assert search(app, "anything").status_code == 200


def test_default_backend_is_the_packages_own(seed_packages):
    app = build_app(setup=lambda config: config.include("cliquet_indexing"))
    assert type(app.app.registry.indexer).__module__ == "cliquet_indexing.elasticsearch"


def test_backend_setting_from_the_environment(seed_packages, monkeypatch):
    monkeypatch.setenv("CLIQUET_INDEXING_BACKEND", "cliquet_indexing.elasticsearch")
    app = build_app(
        {"cliquet.indexing_backend": "nowhere.to.be.found", "cliquet_indexing.hosts": "es:9200"},
        setup=lambda config: config.include("cliquet_indexing"),
    )
    assert app.app.registry.indexer.client.hosts == ["es:9200"]


def test_search_lives_under_the_version_prefix(seed_packages):
    app = build_app(INDEXING, setup=lambda config: config.include("cliquet_indexing"))
    response = app.post("/search/x/", b"", status=307)
    assert response.headers["Location"].endswith("/v1/search/x/")


# 1. Subclassing, as the seed shows


@pytest.fixture
def indexed_app(seed_packages):
    import indexedproject

    return webtest.TestApp(indexedproject.main({}, **TEST_SETTINGS, **INDEXING))


def test_created_records_are_indexed(indexed_app):
    alice = basic_auth("alice", "pw")
    body = {"data": {"url": "https://a.example", "title": "A"}}
    record = indexed_app.post_json("/v1/bookmarks", body, headers=alice, status=201).json["data"]

    indexed = indexed_app.app.registry.indexer.client.indices["bookmark"]
    assert indexed == {record["id"]: record}


def test_search_returns_the_indexers_results(indexed_app):
    alice = basic_auth("alice", "pw")
    for title in ("A", "B", "A"):
        body = {"data": {"url": f"https://{title}.example", "title": title}}
        indexed_app.post_json("/v1/bookmarks", body, headers=alice, status=201)

    response = search(indexed_app, "bookmark", {"query": {"match": {"title": "A"}}})
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.json["hits"]["total"] == 2
    assert [hit["title"] for hit in hits(response)] == ["A", "A"]
    everything = search(indexed_app, "bookmark", {"query": {"match_all": {}}})
    assert everything.json["hits"]["total"] == 3
    # What the view returns is what the indexer answered.
    indexer = indexed_app.app.registry.indexer
    assert everything.json == indexer.search("bookmark", b'{"query": {"match_all": {}}}')


def test_indexer_failure_is_a_cliquet_error(indexed_app):
    response = indexed_app.post(
        "/v1/search/bookmark/", b"{not json", content_type="application/json", status=500
    )
    assert response.content_type == "application/json"
    assert response.json["errno"] == 999


def test_refused_creation_is_not_indexed(indexed_app):
    alice = basic_auth("alice", "pw")
    indexed_app.post_json(
        "/v1/bookmarks", {"data": {"title": "no url"}}, headers=alice, status=400
    )
    assert indexed_app.app.registry.indexer.client.indices == {}


# 2. A plain subscriber, no base class


def index_changes(event):
    """Keep the index in step with any resource: a subscriber, no base class."""
    indexer = event.request.registry.indexer
    collection_id = event.payload["resource_name"]
    for impacted in event.impacted_records:
        new = impacted["new"]
        if new.get("deleted"):
            indexer.unindex_record(collection_id, new, "id")
        else:
            indexer.index_record(collection_id, new, "id")


def includeme_with_subscriber(config):
    config.include("cliquet_indexing")
    config.add_subscriber(index_changes, AfterResourceChanged)


@pytest.fixture
def subscribed_app(seed_packages):
    config = Configurator(settings={**TEST_SETTINGS, **INDEXING})
    cliquet.initialize(config, "0.0.1")
    config.scan("tests.resource.testapp")
    includeme_with_subscriber(config)
    return webtest.TestApp(config.make_wsgi_app())


def test_subscriber_indexes_every_write_of_a_plain_resource(subscribed_app):
    app = subscribed_app
    alice = basic_auth("alice", "pw")
    indices = app.app.registry.indexer.client.indices

    first = app.post_json("/v1/articles", {"data": {"title": "one"}}, headers=alice).json["data"]
    second = app.post_json("/v1/articles", {"data": {"title": "two"}}, headers=alice).json["data"]
    assert indices["article"] == {first["id"]: first, second["id"]: second}

    url = f"/v1/articles/{first['id']}"
    changed = app.patch_json(url, {"data": {"title": "uno"}}, headers=alice).json["data"]
    assert indices["article"][first["id"]] == changed
    app.delete(url, headers=alice)
    assert indices["article"] == {second["id"]: second}

    response = search(app, "article", {"query": {"match": {"title": "two"}}})
    assert hits(response) == [second]


def test_subscriber_indexes_shareable_resources_and_batches(subscribed_app):
    app = subscribed_app
    alice = basic_auth("alice", "pw")
    body = {
        "defaults": {"method": "POST", "path": "/notes"},
        "requests": [{"body": {"data": {"text": "a"}}}, {"body": {"data": {"text": "b"}}}],
    }
    responses = app.post_json("/v1/batch", body, headers=alice).json["responses"]
    assert [r["status"] for r in responses] == [201, 201]
    response = search(app, "note", {"query": {"match_all": {}}})
    assert sorted(hit["text"] for hit in hits(response)) == ["a", "b"]


def test_subscriber_does_not_index_failed_writes(subscribed_app):
    app = subscribed_app
    alice = basic_auth("alice", "pw")
    app.post_json("/v1/articles", {"data": {"rank": 1}}, headers=alice, status=400)
    assert app.app.registry.indexer.client.indices == {}
