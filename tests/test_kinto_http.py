"""Kinto's own Python client, ``kinto-http``, drives a cliquet resource served on Kinto's paths.

The resource is registered at ``/buckets/{bucket_id}/collections/{collection_id}/records``, as
Kinto serves records, and served over real HTTP (waitress, in a thread) on every storage backend
that runs the protocol: what passes here is what a Kinto client can rely on from a cliquet service.
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from typing import Any

import colander
import pytest
from pyramid.config import Configurator
from webtest.http import StopableWSGIServer

import cliquet
from cliquet import resource
from cliquet.resource import ids
from cliquet.testing.web import TEST_SETTINGS
from tests.security.fuzz import _sql_settings

kinto_http = pytest.importorskip("kinto_http")
from kinto_http.patch_type import JSONPatch, MergePatch  # noqa: E402

RECORDS = "/buckets/{bucket_id}/collections/{collection_id}/records"


class TaskSchema(resource.ResourceSchema):
    title = colander.SchemaNode(colander.String())
    done = colander.SchemaNode(colander.Boolean(), missing=colander.drop)
    tags = colander.SchemaNode(
        colander.Sequence(), colander.SchemaNode(colander.String()), missing=colander.drop
    )


class Names(ids.IdGenerator):
    """Ids chosen by clients (``t1``), or UUIDs made by the server."""

    def __call__(self) -> str:
        return str(uuid.uuid4())


class Task(resource.ShareableResource):
    schema = TaskSchema
    id_generator = Names


def _settings(backend: str, tmp_path: Any, request: pytest.FixtureRequest) -> dict[str, Any]:
    if backend == "memory":
        return {}
    if backend == "sqlite":
        path = tmp_path / "kinto-http.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgresql_url")
    return _sql_settings(url)


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.postgresql),
    ]
)
def server(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    settings = {
        **TEST_SETTINGS,
        **_settings(request.param, tmp_path, request),
        # Everyone may create records: the permission checks are another suite's subject.
        "cliquet.task_create_principals": "system.Authenticated",
    }
    config = Configurator(settings=settings)
    cliquet.initialize(config, "1.0.0")
    resource.register_resource(
        config, Task, name="task", collection_path=RECORDS, record_path=RECORDS + "/{id}"
    )
    app = config.make_wsgi_app()
    served = StopableWSGIServer.create(app)
    try:
        yield served.application_url.rstrip("/") + "/v1"
    finally:
        served.shutdown()
        for backend in (app.registry.storage, app.registry.permission):
            engine = getattr(backend, "engine", None)
            if engine is not None:
                backend.flush()
                engine.dispose()


@pytest.fixture
def client(server: str) -> Any:
    return kinto_http.Client(
        server_url=server, auth=("alice", "pw"), bucket="blog", collection="tasks"
    )


def test_create_refuses_to_overwrite_and_get_reads_back(client: Any) -> None:
    created = client.create_record(id="t1", data={"title": "write tests"})
    assert created["data"]["title"] == "write tests"
    # If-None-Match: * on an existing id: a conflict, not an overwrite.
    with pytest.raises(kinto_http.KintoException) as error:
        client.create_record(id="t1", data={"title": "overwrite"})
    assert error.value.response.status_code == 412
    # if_not_exists swallows exactly that conflict and returns what is stored.
    kept = client.create_record(id="t1", data={"title": "again"}, if_not_exists=True)
    assert kept["data"]["title"] == "write tests"
    assert client.get_record(id="t1")["data"]["title"] == "write tests"


def test_list_since_after_deletions_returns_tombstones(client: Any) -> None:
    for i in range(3):
        client.create_record(id=f"t{i}", data={"title": f"task {i}"})
    timestamp = client.get_records_timestamp()
    client.delete_record(id="t1")
    client.create_record(id="t3", data={"title": "task 3"})
    changes = client.get_records(_since=timestamp)
    by_id = {record["id"]: record for record in changes}
    assert set(by_id) == {"t1", "t3"}
    assert by_id["t1"].get("deleted") is True
    assert {r["id"] for r in client.get_records()} == {"t0", "t2", "t3"}


def test_list_follows_every_page(client: Any) -> None:
    for i in range(25):
        client.create_record(id=f"t{i:02}", data={"title": f"task {i}"})
    records = client.get_records(_limit=7, _sort="title", pages=float("inf"))
    assert len(records) == 25
    assert len({r["id"] for r in records}) == 25


def test_safe_update_detects_a_concurrent_write(client: Any) -> None:
    record = client.create_record(id="t1", data={"title": "v1"})["data"]
    updated = client.update_record(data={**record, "title": "v2"}, safe=True)["data"]
    assert updated["title"] == "v2"
    # The stale copy carries the old last_modified: If-Match refuses it.
    with pytest.raises(kinto_http.KintoException) as error:
        client.update_record(data={**record, "title": "v3"}, safe=True)
    assert error.value.response.status_code == 412
    assert client.get_record(id="t1")["data"]["title"] == "v2"


def test_patch_with_merge_patch_and_json_patch(client: Any) -> None:
    record = client.create_record(id="t1", data={"title": "v1", "tags": ["a"], "done": False})
    merged = client.patch_record(
        id="t1", changes=MergePatch(data={"done": True}), if_match=record["data"]["last_modified"]
    )["data"]
    assert merged["done"] is True and merged["title"] == "v1"
    patched = client.patch_record(
        id="t1",
        changes=JSONPatch(
            [
                {"op": "replace", "path": "/data/title", "value": "v2"},
                {"op": "add", "path": "/data/tags/-", "value": "b"},
                {"op": "add", "path": "/permissions/read/system.Everyone", "value": None},
            ]
        ),
    )
    assert patched["data"]["title"] == "v2"
    assert patched["data"]["tags"] == ["a", "b"]
    assert "system.Everyone" in patched["permissions"]["read"]
    stored = client.get_record(id="t1")
    assert stored["data"]["tags"] == ["a", "b"]


def test_delete_with_if_match(client: Any) -> None:
    record = client.create_record(id="t1", data={"title": "v1"})["data"]
    client.update_record(data={**record, "title": "v2"})
    with pytest.raises(kinto_http.KintoException) as error:
        client.delete_record(id="t1", if_match=record["last_modified"])
    assert error.value.response.status_code == 412
    deleted = client.delete_record(id="t1")
    assert deleted["deleted"] is True
    assert client.get_records() == []


def test_batch_writes_in_one_request(client: Any) -> None:
    client.create_record(id="t0", data={"title": "task 0"})
    with client.batch() as batch:
        for i in range(1, 4):
            batch.create_record(id=f"t{i}", data={"title": f"task {i}"})
        batch.patch_record(id="t0", data={"done": True})
        batch.delete_record(id="t3")
    results = batch.results()
    assert len(results) == 5
    assert results[3]["data"]["done"] is True
    assert results[4]["data"]["deleted"] is True
    assert sorted(r["id"] for r in client.get_records()) == ["t0", "t1", "t2"]


def test_records_of_two_collections_stay_apart(client: Any) -> None:
    client.create_record(id="t1", data={"title": "in tasks"})
    other = client.clone(collection="chores")
    assert other.get_records() == []
    with pytest.raises(kinto_http.KintoException) as error:
        other.get_record(id="t1")
    assert error.value.response.status_code in (403, 404)
