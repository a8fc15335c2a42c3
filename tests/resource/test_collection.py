"""The collection endpoint of a UserResource (``/v1/articles``), through HTTP only.

What PROTOCOL.md promises for lists, creations and bulk deletions: filters, sorting,
limits, partial responses, sync bounds, ETags, isolation between users and every error.
"""

from urllib.parse import urlsplit

import pytest

URL = "/v1/articles"
MISSING = object()


# Helpers ---------------------------------------------------------------------------------


def assert_error(response, status, errno):
    """The response is cliquet's JSON error of ``status`` and ``errno``; returns its body."""
    assert response.status_code == status
    assert response.content_type == "application/json"
    body = response.json
    assert body["code"] == status
    assert body["errno"] == errno
    assert body["error"] == response.status.split(" ", 1)[1]
    assert isinstance(body["message"], str) and body["message"]
    return body


def assert_invalid(response, *, location, name, errno=107):
    """A 400 whose ``details`` name exactly one faulty part of the request."""
    body = assert_error(response, 400, errno)
    assert [(d["location"], d["name"]) for d in body["details"]] == [(location, name)]
    assert isinstance(body["details"][0]["description"], str)
    return body


def create(app, headers, **fields):
    fields.setdefault("title", "untitled")
    response = app.post_json(URL, {"data": fields}, headers=headers, status=201)
    return response.json["data"]


def listing(app, headers, query="", **kwargs):
    return app.get(f"{URL}?{query}" if query else URL, headers=headers, **kwargs)


def total(app, headers, query=""):
    """``Total-Records``: what a ``HEAD`` of the list answers."""
    response = app.head(f"{URL}?{query}" if query else URL, headers=headers)
    assert response.body == b""
    return response.headers["Total-Records"]


def titles(app, headers, query=""):
    return [r["title"] for r in listing(app, headers, query).json["data"]]


# Listing and creating --------------------------------------------------------------------


def test_empty_list(app, alice):
    response = listing(app, alice)
    assert response.status_code == 200
    assert response.content_type == "application/json"
    assert response.json == {"data": []}
    assert "Total-Records" not in response.headers  # a list pays for no count
    assert total(app, alice) == "0"
    assert "Next-Page" not in response.headers
    assert response.headers["ETag"].startswith('"') and response.headers["ETag"].endswith('"')
    assert int(response.headers["ETag"][1:-1]) > 0


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_post_creates_with_server_id_and_timestamp(app, alice):
    response = app.post_json(URL, {"data": {"title": "One", "rank": 3}}, headers=alice)
    assert response.status_code == 201
    record = response.json["data"]
    assert set(record) == {"id", "last_modified", "title", "rank"}
    assert record["title"] == "One"
    assert record["rank"] == 3
    assert isinstance(record["id"], str)
    # UUID4, lowercase, as the default id generator makes them.
    assert len(record["id"]) == 36 and record["id"][14] == "4"
    assert isinstance(record["last_modified"], int) and not isinstance(
        record["last_modified"], bool
    )
    assert record["last_modified"] > 1_000_000_000_000  # epoch milliseconds
    assert response.headers["ETag"] == f'"{record["last_modified"]}"'
    assert list(response.json) == ["data"]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_post_drops_client_last_modified(app, alice):
    response = app.post_json(
        URL, {"data": {"title": "t", "last_modified": 42}}, headers=alice, status=201
    )
    assert response.json["data"]["last_modified"] != 42


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_list_returns_created_records_newest_first(app, alice):
    first = create(app, alice, title="first")
    second = create(app, alice, title="second")
    response = listing(app, alice)
    assert response.json == {"data": [second, first]}
    assert total(app, alice) == "2"
    assert "Next-Page" not in response.headers


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_post_with_explicit_valid_id(app, alice):
    record_id = "2dc1483f-a0af-44d0-aa85-5c5100e834bb"
    response = app.post_json(URL, {"data": {"id": record_id, "title": "mine"}}, headers=alice)
    assert response.status_code == 201
    assert response.json["data"]["id"] == record_id
    fetched = app.get(f"{URL}/{record_id}", headers=alice).json["data"]
    assert fetched == response.json["data"]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_post_with_existing_id_returns_existing_record_200(app, alice):
    existing = create(app, alice, title="original", rank=1)
    response = app.post_json(
        URL, {"data": {"id": existing["id"], "title": "other"}}, headers=alice
    )
    assert response.status_code == 200
    assert response.json == {"data": existing}
    assert response.headers["ETag"] == f'"{existing["last_modified"]}"'
    assert listing(app, alice).json["data"] == [existing]


@pytest.mark.parametrize(
    ("data", "name"),
    [
        ({"title": 5}, "data.title"),
        ({"title": "t", "nothere": 1}, "data.nothere"),
        ({}, "data.title"),
    ],
)
def test_post_with_existing_id_still_refuses_an_invalid_body(app, alice, data, name):
    """The body is judged as for a new record: the taken id is no way around the schema."""
    existing = create(app, alice, title="original")
    body = {"data": {"id": existing["id"], **data}}
    response = app.post_json(URL, body, headers=alice, expect_errors=True)
    assert_invalid(response, location="body", name=name)
    assert listing(app, alice).json["data"] == [existing]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_post_if_none_match_star_on_existing_id_is_412(app, alice):
    existing = create(app, alice, title="original")
    response = app.post_json(
        URL,
        {"data": {"id": existing["id"], "title": "other"}},
        headers={**alice, "If-None-Match": "*"},
        expect_errors=True,
    )
    body = assert_error(response, 412, 114)
    assert body["details"]["existing"] == existing


def test_post_if_none_match_star_on_new_id_creates(app, alice):
    record_id = "2dc1483f-a0af-44d0-aa85-5c5100e834bb"
    response = app.post_json(
        URL,
        {"data": {"id": record_id, "title": "new"}},
        headers={**alice, "If-None-Match": "*"},
    )
    assert response.status_code == 201


@pytest.mark.parametrize("record_id", ["not-a-uuid", "2DC1483F-A0AF-44D0-AA85-5C5100E834BB", 42])
def test_post_with_id_the_generator_never_makes_is_400(app, alice, record_id):
    response = app.post_json(
        URL, {"data": {"id": record_id, "title": "x"}}, headers=alice, expect_errors=True
    )
    assert_invalid(response, location="body", name="data.id")
    assert listing(app, alice).json["data"] == []


# Filters ---------------------------------------------------------------------------------


@pytest.fixture
def articles(app, alice):
    """Five records of alice (oldest first) and one of bob that no filter may reach."""
    created = [
        create(app, alice, title="Alpha", rank=1, read=True, author={"name": "Ann"}, tags=["x"]),
        create(app, alice, title="beta", rank=2, read=False, author={"name": "Bob"}),
        create(app, alice, title="Gamma ray", rank=3, body="text"),
        create(app, alice, title="delta"),
        create(app, alice, title="42", author={"name": "Ann", "age": 7}),
    ]
    return {r["title"]: r for r in created}


@pytest.fixture
def bobs_article(app, bob, articles):
    return create(app, bob, title="Alpha", rank=1, read=True, author={"name": "Ann"})


def matching(app, headers, query):
    response = listing(app, headers, query)
    assert response.status_code == 200
    return sorted(r["title"] for r in response.json["data"])


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Values are JSON where they parse: numbers, booleans...
        ("rank=2", ["beta"]),
        ('rank="2"', []),
        ("read=true", ["Alpha"]),
        ("read=false", ["beta"]),
        ('read="true"', []),
        # ...and strings otherwise.
        ("title=beta", ["beta"]),
        ("title=Gamma%20ray", ["Gamma ray"]),
        ("title=42", []),
        ('title="42"', ["42"]),
        ("min_rank=2", ["Gamma ray", "beta"]),
        ("max_rank=2", ["Alpha", "beta"]),
        ("gt_rank=2", ["Gamma ray"]),
        ("lt_rank=2", ["Alpha"]),
        ("gt_rank=1&lt_rank=3", ["beta"]),
        ("in_rank=1,3", ["Alpha", "Gamma ray"]),
        ("in_title=beta,delta,nothing", ["beta", "delta"]),
        ("not_rank=1", ["42", "Gamma ray", "beta", "delta"]),
        ("not_title=beta", ["42", "Alpha", "Gamma ray", "delta"]),
        ("exclude_rank=1,2", ["42", "Gamma ray", "delta"]),
        ("has_rank=true", ["Alpha", "Gamma ray", "beta"]),
        ("has_rank=false", ["42", "delta"]),
        ("has_body=true", ["Gamma ray"]),
        ("like_title=*ray", ["Gamma ray"]),
        ("like_title=be*", ["beta"]),
        ("like_title=*et*", ["beta"]),
        ("like_title=*a", ["Alpha", "beta", "delta"]),
        ("like_title=b*a", ["beta"]),
        ("like_title=*zzz*", []),
        ("author.name=Ann", ["42", "Alpha"]),
        ("author.age=7", ["42"]),
        ("in_author.name=Bob,Nobody", ["beta"]),
        ("has_author.name=false", ["Gamma ray", "delta"]),
        ("not_author.name=Ann", ["Gamma ray", "beta", "delta"]),
        ("like_author.name=A*", ["42", "Alpha"]),
        ("rank=1&read=true", ["Alpha"]),
        ("rank=1&read=false", []),
    ],
)
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_filters(app, alice, articles, bobs_article, query, expected):
    assert matching(app, alice, query) == expected


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_filter_values_that_are_not_json_numbers_stay_text(app, alice):
    # Python's JSON parser reads NaN and Infinity as floats; JSON does not.
    create(app, alice, title="NaN")
    create(app, alice, title="Infinity")
    create(app, alice, title="other")
    assert matching(app, alice, "title=NaN") == ["NaN"]
    assert matching(app, alice, "title=Infinity") == ["Infinity"]
    assert matching(app, alice, "in_title=NaN,-Infinity") == ["NaN"]
    assert matching(app, alice, "rank=NaN") == []


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_filter_on_id(app, alice, articles, bobs_article):
    alpha, beta = articles["Alpha"], articles["beta"]
    assert matching(app, alice, f"id={alpha['id']}") == ["Alpha"]
    assert matching(app, alice, f"in_id={alpha['id']},{beta['id']}") == ["Alpha", "beta"]
    assert matching(app, alice, f"not_id={alpha['id']}") == ["42", "Gamma ray", "beta", "delta"]
    assert matching(app, alice, f"exclude_id={alpha['id']},{beta['id']}") == [
        "42",
        "Gamma ray",
        "delta",
    ]
    # Bob's record is not alice's, even by id.
    assert matching(app, alice, f"id={bobs_article['id']}") == []


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_filter_on_last_modified(app, alice, articles):
    beta = articles["beta"]["last_modified"]
    delta = articles["delta"]["last_modified"]
    assert matching(app, alice, f"last_modified={beta}") == ["beta"]
    assert matching(app, alice, f"min_last_modified={delta}") == ["42", "delta"]
    assert matching(app, alice, f"gt_last_modified={delta}") == ["42"]
    assert matching(app, alice, f"max_last_modified={beta}") == ["Alpha", "beta"]
    assert matching(app, alice, f"lt_last_modified={beta}") == ["Alpha"]
    assert matching(app, alice, f"in_last_modified={beta},{delta}") == ["beta", "delta"]
    assert matching(app, alice, f"not_last_modified={beta}") == [
        "42",
        "Alpha",
        "Gamma ray",
        "delta",
    ]


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("last_modified=abc", "last_modified"),
        ("last_modified=1.5", "last_modified"),
        ("last_modified=true", "last_modified"),
        ("last_modified=", "last_modified"),
        ("gt_last_modified=abc", "gt_last_modified"),
        ("min_last_modified=null", "min_last_modified"),
        ("in_last_modified=1,abc", "in_last_modified"),
        ("exclude_last_modified=x", "exclude_last_modified"),
        ("has_rank=maybe", "has_rank"),
        ("has_rank=2", "has_rank"),
        ("has_rank=", "has_rank"),
        ("unknown=1", "unknown"),
        ("min_unknown=1", "min_unknown"),
        ("unknown.nested=1", "unknown.nested"),
        ("has_unknown=true", "has_unknown"),
        ("min_=1", "min_"),
        ("has_=true", "has_"),
        ("title..x=1", "title..x"),
        ("ti%20tle=1", "ti tle"),
        ("_unknown=1", "_unknown"),
        ("_limits=1", "_limits"),
    ],
)
def test_bad_filters_are_400(app, alice, articles, query, name):
    response = listing(app, alice, query, expect_errors=True)
    assert_invalid(response, location="querystring", name=name)


# Sorting ---------------------------------------------------------------------------------


@pytest.fixture
def ranked(app, alice):
    """(rank, title) pairs created in this order, with ids in the same order (so that the
    id order, which breaks ties, is oldest first); two records lack a rank."""
    pairs = [(1, "b"), (2, "a"), (None, "m"), (1, "a"), (2, "c"), (None, "n")]
    for i, (rank, title) in enumerate(pairs):
        record_id = f"{i:08x}-0000-4000-8000-000000000000"
        if rank is None:
            create(app, alice, id=record_id, title=title)
        else:
            create(app, alice, id=record_id, title=title, rank=rank)


def pairs(app, headers, query):
    response = listing(app, headers, query)
    assert response.status_code == 200
    return [(r.get("rank"), r["title"]) for r in response.json["data"]]


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        # Ties are broken by id, ascending whatever the direction (here: oldest first).
        (
            "title",
            [(2, "a"), (1, "a"), (1, "b"), (2, "c"), (None, "m"), (None, "n")],
        ),
        (
            "-title",
            [(None, "n"), (None, "m"), (2, "c"), (1, "b"), (2, "a"), (1, "a")],
        ),
        (
            "%2Btitle",
            [(2, "a"), (1, "a"), (1, "b"), (2, "c"), (None, "m"), (None, "n")],
        ),
        (
            "rank,title",
            [(None, "m"), (None, "n"), (1, "a"), (1, "b"), (2, "a"), (2, "c")],
        ),
        (
            "rank,-title",
            [(None, "n"), (None, "m"), (1, "b"), (1, "a"), (2, "c"), (2, "a")],
        ),
        (
            "-rank,title",
            [(2, "a"), (2, "c"), (1, "a"), (1, "b"), (None, "m"), (None, "n")],
        ),
        (
            "-rank,-title",
            [(2, "c"), (2, "a"), (1, "b"), (1, "a"), (None, "n"), (None, "m")],
        ),
        (
            "rank",
            [(None, "m"), (None, "n"), (1, "b"), (1, "a"), (2, "a"), (2, "c")],
        ),
        (
            "last_modified",
            [(1, "b"), (2, "a"), (None, "m"), (1, "a"), (2, "c"), (None, "n")],
        ),
        (
            "-last_modified",
            [(None, "n"), (2, "c"), (1, "a"), (None, "m"), (2, "a"), (1, "b")],
        ),
    ],
)
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_sort(app, alice, ranked, sort, expected):
    assert pairs(app, alice, f"_sort={sort}") == expected


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_default_sort_is_newest_first(app, alice, ranked):
    assert pairs(app, alice, "") == pairs(app, alice, "_sort=-last_modified")


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_records_missing_the_sort_field_sort_as_null(app, alice, ranked):
    ascending = pairs(app, alice, "_sort=rank")
    descending = pairs(app, alice, "_sort=-rank")
    assert [rank for rank, _ in ascending[:2]] == [None, None]
    assert [rank for rank, _ in descending[-2:]] == [None, None]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_sort_on_nested_field(app, alice, articles):
    names = [
        (r.get("author") or {}).get("name")
        for r in listing(app, alice, "_sort=author.name,title").json["data"]
    ]
    assert names == [None, None, "Ann", "Ann", "Bob"]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_sort_by_id(app, alice, articles):
    ids = [r["id"] for r in listing(app, alice, "_sort=id").json["data"]]
    assert ids == sorted(ids)
    ids = [r["id"] for r in listing(app, alice, "_sort=-id").json["data"]]
    assert ids == sorted(ids, reverse=True)


@pytest.mark.parametrize(
    "sort",
    [
        "",
        "-",
        "%2B",
        "title,,rank",
        "title,",
        ",title",
        "--title",
        "-%2Btitle",
        "title,-",
        "unknown",
        "-unknown",
        "ti%20tle",
        "title%3Brank",
    ],
)
def test_malformed_sort_is_400(app, alice, articles, sort):
    response = listing(app, alice, f"_sort={sort}", expect_errors=True)
    assert_invalid(response, location="querystring", name="_sort")


# Limit, partial responses and counts -----------------------------------------------------


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_limit(app, alice, ranked):
    everything = listing(app, alice).json["data"]
    response = listing(app, alice, "_limit=1")
    assert response.json["data"] == everything[:1]
    assert "Total-Records" not in response.headers
    assert total(app, alice, "_limit=1") == "6"
    assert "Next-Page" in response.headers
    response = listing(app, alice, "_limit=6")
    assert response.json["data"] == everything
    assert "Next-Page" not in response.headers
    assert listing(app, alice, "_limit=100").json["data"] == everything


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1.5", "", "true", "null", "1e2"])
def test_bad_limit_is_400(app, alice, limit):
    response = listing(app, alice, f"_limit={limit}", expect_errors=True)
    assert_invalid(response, location="querystring", name="_limit")


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_limit_is_capped_by_paginate_by(make_resource_app, alice):
    app = make_resource_app({"cliquet.paginate_by": "2"})
    for i in range(3):
        create(app, alice, title=str(i))
    # paginate_by is the default page size...
    response = listing(app, alice)
    assert len(response.json["data"]) == 2
    assert "Next-Page" in response.headers
    # ...and the largest.
    response = listing(app, alice, "_limit=3")
    assert len(response.json["data"]) == 2
    assert total(app, alice, "_limit=3") == "3"
    assert "Next-Page" in response.headers
    assert len(listing(app, alice, "_limit=1").json["data"]) == 1


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_limit_is_capped_by_storage_max_fetch_size(make_resource_app, alice):
    app = make_resource_app({"cliquet.storage_max_fetch_size": "3", "cliquet.paginate_by": "5"})
    for i in range(4):
        create(app, alice, title=str(i))
    response = listing(app, alice, "_limit=4")
    assert len(response.json["data"]) == 3
    assert "Next-Page" in response.headers
    response = listing(app, alice)
    assert len(response.json["data"]) == 3
    assert total(app, alice) == "4"


def test_fields_gives_partial_records(app, alice, articles):
    data = listing(app, alice, "_fields=title").json["data"]
    assert len(data) == 5
    for record in data:
        assert set(record) == {"id", "last_modified", "title"}
    by_title = {r["title"]: r for r in data}
    assert by_title["beta"]["id"] == articles["beta"]["id"]
    assert by_title["beta"]["last_modified"] == articles["beta"]["last_modified"]


def test_fields_with_several_and_absent_fields(app, alice, articles):
    data = listing(app, alice, "_fields=rank,body&_sort=title").json["data"]
    assert [sorted(r) for r in data] == [
        ["id", "last_modified"],  # 42
        ["id", "last_modified", "rank"],  # Alpha
        ["body", "id", "last_modified", "rank"],  # Gamma ray
        ["id", "last_modified", "rank"],  # beta
        ["id", "last_modified"],  # delta
    ]


def test_fields_with_nested_fields(app, alice, articles):
    data = listing(app, alice, "_fields=author.name,title&_sort=title").json["data"]
    shapes = [{k: v for k, v in r.items() if k not in ("id", "last_modified")} for r in data]
    assert shapes == [
        {"title": "42", "author": {"name": "Ann"}},  # not its "age"
        {"title": "Alpha", "author": {"name": "Ann"}},
        {"title": "Gamma ray"},
        {"title": "beta", "author": {"name": "Bob"}},
        {"title": "delta"},
    ]
    data = listing(app, alice, "_fields=author.age,author.name&title=%2242%22").json["data"]
    assert data[0]["author"] == {"name": "Ann", "age": 7}
    for fields in ("author,author.name", "author.name,author"):
        data = listing(app, alice, f"_fields={fields}&title=%2242%22").json["data"]
        assert data[0]["author"] == {"name": "Ann", "age": 7}


def test_fields_on_unknown_field_is_400(app, alice):
    response = listing(app, alice, "_fields=title,unknown", expect_errors=True)
    assert_invalid(response, location="querystring", name="_fields")


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_total_records_counts_filtered_records_not_the_page(app, alice, articles, bobs_article):
    assert total(app, alice, "has_rank=true&_limit=1") == "3"
    assert total(app, alice, "rank=42") == "0"
    assert total(app, alice) == "5"
    page = listing(app, alice, "has_rank=true&_limit=1")
    assert total(app, alice, urlsplit(page.headers["Next-Page"]).query) == "3"


@pytest.mark.backends("memory", "sqlite", "postgresql")
@pytest.mark.parametrize(
    "query, expected",
    [
        ("title=beta", 1),
        ("min_rank=2", 2),
        ("in_title=Alpha,beta,nope", 2),
        ("not_title=beta&has_rank=true", 2),
        ("like_title=*a", 3),
        ("_sort=title&_limit=2", 5),
    ],
)
def test_head_counts_what_the_filters_match(app, alice, articles, bobs_article, query, expected):
    assert total(app, alice, query) == str(expected)
    assert len(listing(app, alice, query.split("&_limit")[0]).json["data"]) == expected


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_head_counts_live_records_changed_since(app, alice, articles):
    since = listing(app, alice).headers["ETag"][1:-1]
    app.delete(f"{URL}/{articles['beta']['id']}", headers=alice)
    create(app, alice, title="new")
    assert total(app, alice, f"_since={since}") == "1"  # the tombstone is not counted
    assert len(listing(app, alice, f"_since={since}").json["data"]) == 2


def test_a_list_answers_no_count(app, alice, articles):
    for query in ("", "title=beta", "_limit=2", "_since=0"):
        assert "Total-Records" not in listing(app, alice, query).headers


def test_head_answers_the_headers_of_a_list_without_reading_its_records(
    app, alice, articles, monkeypatch
):
    from cliquet.storage import StorageBase

    got = listing(app, alice, "_limit=2")

    def refuse(*args, **kwargs):
        raise AssertionError("HEAD listed records")

    storage = app.app.registry.storage
    monkeypatch.setattr(type(storage), "list_all", refuse)
    monkeypatch.setattr(StorageBase, "list_all", refuse)
    head = app.head(f"{URL}?_limit=2", headers=alice)
    assert head.status_code == 200 and head.body == b""
    for name in ("ETag", "Last-Modified", "Content-Type"):
        assert head.headers[name] == got.headers[name]
    assert head.headers["Total-Records"] == "5"
    # No Next-Page (knowing it takes the page), no length of a body never built (RFC 9110).
    assert "Next-Page" not in head.headers and "Content-Length" not in head.headers
    etag = head.headers["ETag"]
    assert app.head(URL, headers={**alice, "If-None-Match": etag}, status=304).body == b""


@pytest.mark.backends("sqlite", "postgresql")
def test_head_on_sql_reads_no_record(app, alice, articles):
    """An unfiltered count reads the collection's count; a filtered one counts in SQL."""
    import sqlalchemy as sa

    seen = []

    def record(conn, cursor, statement, *args):
        seen.append(statement)

    engine = app.app.registry.storage.engine
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        assert total(app, alice) == "5"
        unfiltered = list(seen)
        assert total(app, alice, "has_rank=true&_sort=title&_limit=1") == "3"
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert not any("FROM records" in statement for statement in unfiltered)
    reading = [s for s in seen if "FROM records" in s]
    assert reading
    assert all(s.startswith("SELECT count(*) AS count_1 \nFROM records") for s in reading)


def test_head_refuses_a_forged_token_as_a_list_does(app, alice, articles):
    page = listing(app, alice, "_limit=2")
    forged = page.headers["Next-Page"].replace("_token=", "_token=x")
    for method in (app.get, app.head):
        response = method(forged, headers=alice, status=400)
        assert response.status_code == 400


# Synchronisation: _since and _before -----------------------------------------------------


@pytest.fixture
def history(app, alice):
    """a, b, c created, then a deleted: returns the records and a's tombstone."""
    a = create(app, alice, title="a")
    b = create(app, alice, title="b")
    c = create(app, alice, title="c")
    tombstone = app.delete(f"{URL}/{a['id']}", headers=alice).json["data"]
    return a, b, c, tombstone


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_since_returns_changes_strictly_after_with_tombstones(app, alice, history):
    a, b, c, tombstone = history
    assert tombstone == {
        "id": a["id"],
        "last_modified": tombstone["last_modified"],
        "deleted": True,
    }
    data = listing(app, alice, f"_since={b['last_modified']}").json["data"]
    assert data == [tombstone, c]
    data = listing(app, alice, f"_since={a['last_modified']}").json["data"]
    assert data == [tombstone, c, b]
    assert listing(app, alice, f"_since={tombstone['last_modified']}").json["data"] == []
    data = listing(app, alice, f"_since={tombstone['last_modified'] - 1}").json["data"]
    assert data == [tombstone]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_before_returns_changes_strictly_before_with_tombstones(app, alice, history):
    a, b, c, tombstone = history
    data = listing(app, alice, f"_before={tombstone['last_modified']}").json["data"]
    assert data == [c, b]
    data = listing(app, alice, f"_before={tombstone['last_modified'] + 1}").json["data"]
    assert data == [tombstone, c, b]
    assert listing(app, alice, f"_before={b['last_modified']}").json["data"] == []


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_since_and_before_together(app, alice, history):
    a, b, c, tombstone = history
    query = f"_since={b['last_modified']}&_before={tombstone['last_modified'] + 1}"
    assert listing(app, alice, query).json["data"] == [tombstone, c]
    query = f"_since={a['last_modified']}&_before={tombstone['last_modified']}"
    assert listing(app, alice, query).json["data"] == [c, b]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_lists_without_since_hide_tombstones(app, alice, history):
    a, b, c, tombstone = history
    response = listing(app, alice)
    assert response.json["data"] == [c, b]
    assert total(app, alice) == "2"


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_since_sees_tombstones_of_collection_delete(app, alice, history):
    a, b, c, tombstone = history
    before = int(listing(app, alice).headers["ETag"][1:-1])
    app.delete(URL, headers=alice)
    data = listing(app, alice, f"_since={before}").json["data"]
    assert sorted(r["id"] for r in data) == sorted([b["id"], c["id"]])
    assert all(r["deleted"] is True and set(r) == {"id", "last_modified", "deleted"} for r in data)


@pytest.mark.parametrize("param", ["_since", "_before"])
@pytest.mark.parametrize("value", ["abc", "1.5", "", "true", "null", '"abc"'])
def test_bad_since_and_before_are_400(app, alice, param, value):
    response = listing(app, alice, f"{param}={value}", expect_errors=True)
    assert_invalid(response, location="querystring", name=param)


# ETag and If-None-Match ------------------------------------------------------------------


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_list_etag_is_the_collection_timestamp_and_follows_writes(app, alice):
    empty = listing(app, alice).headers["ETag"]
    assert listing(app, alice).headers["ETag"] == empty
    first = create(app, alice, title="1")
    etag = listing(app, alice).headers["ETag"]
    assert etag == f'"{first["last_modified"]}"'
    assert int(etag[1:-1]) > int(empty[1:-1])
    second = create(app, alice, title="2")
    response = listing(app, alice)
    assert response.headers["ETag"] == f'"{second["last_modified"]}"'
    # Even a page shows the collection's timestamp, not the page's.
    assert listing(app, alice, "_limit=1&_sort=last_modified").headers["ETag"] == (
        f'"{second["last_modified"]}"'
    )
    patched = app.patch_json(
        f"{URL}/{first['id']}", {"data": {"title": "one"}}, headers=alice
    ).json["data"]
    assert listing(app, alice).headers["ETag"] == f'"{patched["last_modified"]}"'
    tombstone = app.delete(f"{URL}/{second['id']}", headers=alice).json["data"]
    assert listing(app, alice).headers["ETag"] == f'"{tombstone["last_modified"]}"'


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_list_if_none_match_is_304_when_unchanged(app, alice):
    create(app, alice, title="1")
    etag = listing(app, alice).headers["ETag"]
    response = app.get(URL, headers={**alice, "If-None-Match": etag}, status=304)
    assert response.body == b""
    assert response.headers["ETag"] == etag
    create(app, alice, title="2")
    response = app.get(URL, headers={**alice, "If-None-Match": etag})
    assert response.status_code == 200
    assert len(response.json["data"]) == 2
    assert response.headers["ETag"] != etag


def test_list_if_none_match_of_another_etag_is_200(app, alice):
    create(app, alice, title="1")
    response = app.get(URL, headers={**alice, "If-None-Match": '"123"'})
    assert response.status_code == 200


def test_list_malformed_if_none_match_is_400(app, alice):
    response = app.get(URL, headers={**alice, "If-None-Match": '"abc"'}, expect_errors=True)
    assert_invalid(response, location="header", name="If-None-Match")


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_list_if_match_mismatch_is_412(app, alice):
    create(app, alice, title="1")
    response = app.get(URL, headers={**alice, "If-Match": '"123"'}, expect_errors=True)
    assert_error(response, 412, 114)


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_post_if_match_on_collection(app, alice):
    etag = listing(app, alice).headers["ETag"]
    app.post_json(URL, {"data": {"title": "1"}}, headers={**alice, "If-Match": etag}, status=201)
    # The collection changed since: the same precondition now fails.
    response = app.post_json(
        URL, {"data": {"title": "2"}}, headers={**alice, "If-Match": etag}, expect_errors=True
    )
    assert_error(response, 412, 114)
    assert len(listing(app, alice).json["data"]) == 1


# Collection DELETE -----------------------------------------------------------------------


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_delete_collection_returns_tombstones(app, alice, bob, articles, bobs_article):
    response = app.delete(URL, headers=alice)
    assert response.status_code == 200
    tombstones = response.json["data"]
    assert sorted(t["id"] for t in tombstones) == sorted(r["id"] for r in articles.values())
    timestamps = [t["last_modified"] for t in tombstones]
    assert len(set(timestamps)) == len(timestamps)
    for tombstone in tombstones:
        assert set(tombstone) == {"id", "last_modified", "deleted"}
        assert tombstone["deleted"] is True
        assert tombstone["last_modified"] > max(r["last_modified"] for r in articles.values())
    assert response.headers["ETag"] == f'"{max(timestamps)}"'
    assert listing(app, alice).json["data"] == []
    # Bob's records are not alice's to delete.
    assert listing(app, bob).json["data"] == [bobs_article]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_delete_collection_honours_filters(app, alice, articles):
    response = app.delete(f"{URL}?has_rank=true", headers=alice)
    assert sorted(t["id"] for t in response.json["data"]) == sorted(
        articles[t]["id"] for t in ("Alpha", "beta", "Gamma ray")
    )
    assert matching(app, alice, "") == ["42", "delta"]
    response = app.delete(f"{URL}?title=delta", headers=alice)
    assert [t["id"] for t in response.json["data"]] == [articles["delta"]["id"]]
    assert matching(app, alice, "") == ["42"]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_delete_collection_with_nothing_matching(app, alice, articles):
    response = app.delete(f"{URL}?rank=99", headers=alice)
    assert response.json == {"data": []}
    assert len(listing(app, alice).json["data"]) == 5


def test_delete_collection_bad_filter_is_400_and_deletes_nothing(app, alice, articles):
    response = app.delete(f"{URL}?unknown=1", headers=alice, expect_errors=True)
    assert_invalid(response, location="querystring", name="unknown")
    response = app.delete(f"{URL}?last_modified=abc", headers=alice, expect_errors=True)
    assert_invalid(response, location="querystring", name="last_modified")
    assert len(listing(app, alice).json["data"]) == 5


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_delete_collection_if_match_mismatch_is_412(app, alice, articles):
    response = app.delete(URL, headers={**alice, "If-Match": '"123"'}, expect_errors=True)
    assert_error(response, 412, 114)
    assert len(listing(app, alice).json["data"]) == 5


# Users -----------------------------------------------------------------------------------


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_users_never_see_each_others_records(app, alice, bob):
    mine = create(app, alice, title="alice's")
    theirs = create(app, bob, title="bob's")
    assert listing(app, alice).json["data"] == [mine]
    assert listing(app, bob).json["data"] == [theirs]
    assert total(app, alice) == "1"
    assert listing(app, alice, f"id={theirs['id']}").json["data"] == []
    assert listing(app, alice, "_since=0").json["data"] == [mine]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_post_with_another_users_id_does_not_reveal_it(app, alice, bob):
    theirs = create(app, bob, title="bob's", rank=5)
    response = app.post_json(
        URL, {"data": {"id": theirs["id"], "title": "alice's"}}, headers=alice
    )
    assert response.status_code == 201
    assert response.json["data"]["title"] == "alice's"
    assert app.get(f"{URL}/{theirs['id']}", headers=bob).json["data"] == theirs


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", URL),
        ("POST", URL),
        ("DELETE", URL),
        ("GET", f"{URL}/2dc1483f-a0af-44d0-aa85-5c5100e834bb"),
    ],
)
def test_without_credentials_is_401_errno_104(app, method, path):
    response = app.request(path, method=method, expect_errors=True)
    assert_error(response, 401, 104)
    assert response.headers["WWW-Authenticate"].startswith("Basic ")


# Protocol errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", URL),
        ("PATCH", URL),
        ("POST", f"{URL}/2dc1483f-a0af-44d0-aa85-5c5100e834bb"),
    ],
)
def test_wrong_method_is_405_errno_115(app, alice, method, path):
    headers = {**alice, "Content-Type": "application/json"}
    response = app.request(
        path, method=method, body=b'{"data": {"title": "x"}}', headers=headers, expect_errors=True
    )
    assert_error(response, 405, 115)


@pytest.mark.parametrize(
    "path",
    ["/v1/unknown", "/v1/articles/2dc1483f-a0af-44d0-aa85-5c5100e834bb/extra", "/v1/article"],
)
def test_unknown_url_is_404_errno_111(app, alice, path):
    assert_error(app.get(path, headers=alice, expect_errors=True), 404, 111)


def test_body_over_the_limit_is_413_errno_113(make_resource_app, alice):
    app = make_resource_app({"cliquet.max_request_body_bytes": "100"})
    small = {"data": {"title": "x" * 10}}
    app.post_json(URL, small, headers=alice, status=201)
    large = {"data": {"title": "x" * 200}}
    response = app.post_json(URL, large, headers=alice, expect_errors=True)
    assert_error(response, 413, 113)
    assert len(listing(app, alice).json["data"]) == 1


@pytest.mark.parametrize(
    "body", [b"{not json", b'{"data": {"title": "x"}', b"\xff\xfe", b"{'a': 1}"]
)
def test_malformed_json_is_400_errno_106(app, alice, body):
    response = app.post(
        URL, body, headers={**alice, "Content-Type": "application/json"}, expect_errors=True
    )
    assert_error(response, 400, 106)
    assert listing(app, alice).json["data"] == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"{}",
        b'{"data": null}',
        b'{"data": []}',
        b'{"data": "x"}',
        b'{"data": 1}',
        b"[]",
        b'"data"',
        b'{"title": "x"}',
    ],
)
def test_body_without_data_object_is_400_errno_109(app, alice, body):
    response = app.post(
        URL, body, headers={**alice, "Content-Type": "application/json"}, expect_errors=True
    )
    assert_error(response, 400, 109)
    assert listing(app, alice).json["data"] == []


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "data.title"),
        ({"body": "no title"}, "data.title"),
        ({"title": None}, "data.title"),
        ({"title": 12}, "data.title"),
        ({"title": "x", "rank": "abc"}, "data.rank"),
        ({"title": "x", "rank": [1]}, "data.rank"),
        ({"title": "x", "tags": "not a list"}, "data.tags"),
        ({"title": "x", "author": "not an object"}, "data.author"),
    ],
)
def test_schema_violation_is_400_errno_107_naming_the_field(app, alice, data, field):
    response = app.post_json(URL, {"data": data}, headers=alice, expect_errors=True)
    body = assert_error(response, 400, 107)
    assert field in [d["name"] for d in body["details"]]
    for detail in body["details"]:
        assert detail["location"] == "body"
        assert set(detail) == {"location", "name", "description"}
    assert field in body["message"]
    assert listing(app, alice).json["data"] == []


def test_permissions_on_a_user_resource_are_400(app, alice):
    response = app.post_json(
        URL,
        {"data": {"title": "x"}, "permissions": {"read": ["system.Everyone"]}},
        headers=alice,
        expect_errors=True,
    )
    assert_invalid(response, location="body", name="permissions")
