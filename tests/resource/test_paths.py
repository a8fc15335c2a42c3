"""Resources on paths with placeholders of their own: one collection per path."""

import colander
import pytest

from cliquet import resource
from cliquet.testing.web import basic_auth, build_app


class ItemSchema(resource.ResourceSchema):
    title = colander.SchemaNode(colander.String())


class Item(resource.UserResource):
    schema = ItemSchema


class Shared(resource.ShareableResource):
    schema = ItemSchema


def _app():
    def setup(config):
        resource.register_resource(
            config,
            Item,
            name="item",
            collection_path="/boards/{board_id}/items",
            record_path="/boards/{board_id}/items/{id}",
        )
        resource.register_resource(
            config,
            Shared,
            name="shared",
            collection_path="/boards/{board_id}/shared",
            record_path="/boards/{board_id}/shared/{id}",
        )

    return build_app(
        {"cliquet.shared_read_principals": "system.Authenticated"}, setup=setup
    )


@pytest.mark.parametrize("kind", ["items", "shared"])
def test_records_of_two_paths_stay_apart(kind):
    app = _app()
    alice = basic_auth("alice", "pw")
    created = app.post_json(f"/v1/boards/a/{kind}", {"data": {"title": "in a"}}, headers=alice)
    record_id = created.json["data"]["id"]
    assert [r["title"] for r in app.get(f"/v1/boards/a/{kind}", headers=alice).json["data"]] == [
        "in a"
    ]
    assert app.get(f"/v1/boards/b/{kind}", headers=alice).json["data"] == []
    app.get(f"/v1/boards/b/{kind}/{record_id}", headers=alice, status=(403, 404))
    app.delete(f"/v1/boards/b/{kind}", headers=alice)
    assert len(app.get(f"/v1/boards/a/{kind}", headers=alice).json["data"]) == 1


def test_the_record_path_must_end_in_id():
    def setup(config):
        resource.register_resource(
            config, Item, name="item", collection_path="/items", record_path="/items/{key}"
        )

    with pytest.raises(Exception, match="must end in"):
        build_app(setup=setup)
