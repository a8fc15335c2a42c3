"""Paging through a collection with ``_limit`` and ``Next-Page``, through HTTP only.

Tokens are keyset cursors: following ``Next-Page`` walks every record once, in order, even
while others write, and a token serves only the query and the user that made it.
"""

import base64
import json
from urllib.parse import parse_qsl, urlsplit

import pytest

URL = "/v1/articles"


# Helpers ---------------------------------------------------------------------------------


def assert_invalid_token(response):
    assert response.status_code == 400
    assert response.content_type == "application/json"
    body = response.json
    assert body["code"] == 400
    assert body["errno"] == 107
    assert [(d["location"], d["name"]) for d in body["details"]] == [("querystring", "_token")]


def create(app, headers, **fields):
    fields.setdefault("title", "untitled")
    return app.post_json(URL, {"data": fields}, headers=headers, status=201).json["data"]


def store(app, headers, records):
    """Write ``records`` of the user of ``headers`` straight to storage, in one transaction
    (each then has a timestamp of its own, in order); returns them as stored."""
    userid = app.get("/v1/", headers=headers).json["user"]["id"]
    storage = app.app.registry.storage
    storage.begin()
    try:
        stored = [storage.create("article", userid, record) for record in records]
    except BaseException:
        storage.rollback()
        raise
    storage.commit()
    return stored


def listing(app, headers, query=""):
    response = app.get(f"{URL}?{query}", headers=headers)
    assert "Next-Page" not in response.headers, "the baseline must fit in one page"
    return response.json["data"]


def walk(app, headers, query, *, between_pages=None):
    """Follow ``Next-Page`` from ``URL?query``; returns the pages."""
    pages = []
    response = app.get(f"{URL}?{query}", headers=headers)
    while True:
        pages.append(response.json["data"])
        next_page = response.headers.get("Next-Page")
        if next_page is None:
            return pages
        assert len(pages) < 10_000, "Next-Page never ends"
        if between_pages is not None:
            between_pages(len(pages))
        response = app.get(next_page, headers=headers)


def ids(records):
    return [r["id"] for r in records]


def sort_key(field, direction):
    """The protocol's order of one field: missing and null first ascending, last descending."""

    def key(record):
        value = record.get(field)
        return (value is not None, value if value is not None else 0)

    return key, direction == "-"


def assert_sorted(records, field, direction):
    key, reverse = sort_key(field, direction)
    keys = [key(r) for r in records]
    assert keys == sorted(keys, reverse=reverse)


@pytest.fixture
def records(app, alice, bob):
    """23 records of alice with ties and gaps in rank and title, and a few of bob.

    Written straight to storage, as by POSTs one after the other (what is tested here is the
    walk: creating over HTTP is tested elsewhere, and cost half of this module's time)."""
    fields = []
    for i in range(23):
        fields.append({"title": f"t{i % 5}"})
        if i % 4:
            fields[-1]["rank"] = i % 3
    created = store(app, alice, fields)
    store(app, bob, [{"title": f"t{i}", "rank": i} for i in range(3)])
    return created


# Next-Page -------------------------------------------------------------------------------


def test_next_page_only_when_more_records_exist(app, alice):
    for i in range(4):
        create(app, alice, title=str(i))
    response = app.get(f"{URL}?_limit=4", headers=alice)
    assert len(response.json["data"]) == 4
    assert "Next-Page" not in response.headers
    response = app.get(f"{URL}?_limit=5", headers=alice)
    assert "Next-Page" not in response.headers
    response = app.get(f"{URL}?_limit=3", headers=alice)
    assert len(response.json["data"]) == 3
    assert "Next-Page" in response.headers
    last = app.get(response.headers["Next-Page"], headers=alice)
    assert len(last.json["data"]) == 1
    assert "Next-Page" not in last.headers
    assert app.head(response.headers["Next-Page"], headers=alice).headers["Total-Records"] == "4"


def test_no_next_page_on_an_empty_list(app, alice):
    response = app.get(f"{URL}?_limit=1", headers=alice)
    assert response.json["data"] == []
    assert "Next-Page" not in response.headers


def test_next_page_is_a_full_url_with_the_query_and_a_token(app, alice, records):
    response = app.get(f"{URL}?_limit=2&_sort=-rank&has_rank=true", headers=alice)
    next_page = response.headers["Next-Page"]
    parts = urlsplit(next_page)
    assert (parts.scheme, parts.netloc, parts.path) == ("http", "localhost", URL)
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    assert set(params) == {"_limit", "_sort", "has_rank", "_token"}
    assert params["_limit"] == "2"
    assert params["_sort"] == "-rank"
    assert params["has_rank"] == "true"
    assert params["_token"]
    following = app.get(next_page, headers=alice)
    first = f"{URL}?_limit=2&_sort=-rank&has_rank=true"
    counts = [app.head(url, headers=alice).headers["Total-Records"] for url in (first, next_page)]
    assert counts == [str(sum("rank" in r for r in records))] * 2  # the query's, not the page's
    assert following.headers["Next-Page"] != next_page


def test_next_page_replaces_the_previous_token(app, alice, records):
    first = app.get(f"{URL}?_limit=5", headers=alice)
    second = app.get(first.headers["Next-Page"], headers=alice)
    params = parse_qsl(urlsplit(second.headers["Next-Page"]).query)
    assert [k for k, _ in params].count("_token") == 1


# Pages of one record put the cursor after every record: that case runs on every backend.
@pytest.mark.parametrize(
    "limit",
    [pytest.param(1, marks=pytest.mark.backends("memory", "sqlite", "postgresql")), 7, 22, 23],
)
@pytest.mark.parametrize(
    "sort",
    [
        None,
        "-last_modified",
        "last_modified",
        "rank",
        "-rank",
        "title",
        "-title",
        "rank,title",
        "-rank,title",
        "title,-rank",
        "id",
    ],
)
def test_walk_returns_every_record_once_in_order(app, alice, records, sort, limit):
    query = f"_sort={sort}" if sort else ""
    expected = listing(app, alice, query)
    assert len(expected) == 23
    pages = walk(app, alice, f"{query}&_limit={limit}")
    assert [len(p) for p in pages[:-1]] == [limit] * (len(pages) - 1)
    assert 1 <= len(pages[-1]) <= limit
    walked = [r for page in pages for r in page]
    assert walked == expected
    assert len(set(ids(walked))) == 23


@pytest.mark.parametrize("direction", ["", "-"])
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_walk_on_a_field_with_ties_and_missing_values(app, alice, records, direction):
    pages = walk(app, alice, f"_sort={direction}rank&_limit=3")
    walked = [r for page in pages for r in page]
    assert sorted(ids(walked)) == sorted(ids(records))
    assert_sorted(walked, "rank", direction)
    missing = [r for r in walked if "rank" not in r]
    assert len(missing) == 6
    if direction:
        assert walked[-6:] == missing
    else:
        assert walked[:6] == missing


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_walk_with_filters(app, alice, records):
    query = "has_rank=true&not_title=t0&_sort=-rank,title"
    expected = listing(app, alice, query)
    assert 0 < len(expected) < 23
    pages = walk(app, alice, f"{query}&_limit=2")
    assert [r for page in pages for r in page] == expected
    response = app.head(f"{URL}?{query}&_limit=2", headers=alice)
    assert response.headers["Total-Records"] == str(len(expected))


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_walk_with_since_includes_tombstones(app, alice, records):
    since = records[9]["last_modified"]
    for record in records[5:15:2]:
        app.delete(f"{URL}/{record['id']}", headers=alice)
    expected = listing(app, alice, f"_since={since}")
    assert sum(1 for r in expected if r.get("deleted")) == 5
    pages = walk(app, alice, f"_since={since}&_limit=2")
    assert [r for page in pages for r in page] == expected


def test_walk_with_partial_records(app, alice, records):
    pages = walk(app, alice, "_sort=rank&_fields=title&_limit=4")
    walked = [r for page in pages for r in page]
    assert ids(walked) == ids(listing(app, alice, "_sort=rank"))
    assert all(set(r) == {"id", "last_modified", "title"} for r in walked)


def test_changing_limit_keeps_the_token_valid(app, alice, records):
    expected = listing(app, alice, "_sort=rank")
    first = app.get(f"{URL}?_sort=rank&_limit=3", headers=alice)
    token = dict(parse_qsl(urlsplit(first.headers["Next-Page"]).query))["_token"]
    second = app.get(f"{URL}?_sort=rank&_limit=5&_token={token}", headers=alice)
    assert first.json["data"] + second.json["data"] == expected[:8]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_deleting_the_last_record_of_a_page_skips_nothing(app, alice, records):
    expected = listing(app, alice, "_sort=rank")
    first = app.get(f"{URL}?_sort=rank&_limit=5", headers=alice)
    assert first.json["data"] == expected[:5]
    app.delete(f"{URL}/{expected[4]['id']}", headers=alice)
    app.delete(f"{URL}/{expected[5]['id']}", headers=alice)
    rest = walk_from(app, alice, first.headers["Next-Page"])
    assert rest == expected[6:]


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_records_updated_during_a_walk_are_not_repeated(app, alice, records):
    expected = listing(app, alice)
    seen = []

    def touch_a_seen_record(page_number):
        app.patch_json(f"{URL}/{seen[0]['id']}", {"data": {"rank": 99}}, headers=alice)

    pages = []
    response = app.get(f"{URL}?_limit=4", headers=alice)
    while True:
        pages.append(response.json["data"])
        seen.extend(response.json["data"])
        if "Next-Page" not in response.headers:
            break
        touch_a_seen_record(len(pages))
        response = app.get(response.headers["Next-Page"], headers=alice)
    assert ids(seen) == ids(expected)


# Paging while others write: the guarantee of docs/PROTOCOL.md ("Paging") ---------------
#
# Pages after the first serve only records not written since the first page's ETag, each
# after the previous page's last record in an order that write never changes for them
# (the sort fields, then the id). So: no record comes twice; every record that existed when
# the walk began and was not written during it comes exactly once, in order; a record
# written (changed, deleted, created) during the walk comes at most once; ``_since`` of the
# first page's ETag then lists every record written since, tombstones included.


# Renaming a record to one of these moves it after any cursor of the sort.
LAST_TITLE = {"title": "zzz", "-title": "a"}


def current_order(app, headers, query):
    return ids(listing(app, headers, query))


@pytest.mark.parametrize("sort", [None, "title", "-title", "last_modified", "title,-rank"])
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_walk_while_another_client_writes(app, alice, records, sort):
    query = f"_sort={sort}" if sort else ""
    baseline = listing(app, alice, query)
    written = set()  # ids written during the walk (changed, deleted or created)
    served = []
    response = app.get(f"{URL}?{query}&_limit=7", headers=alice)
    first_etag = response.headers["ETag"]
    since = int(first_etag.strip('"'))
    pages = 0
    while True:
        pages += 1
        page = response.json["data"]
        if pages > 1:
            assert all(r["last_modified"] <= since for r in page)
        served.extend(page)
        if "Next-Page" not in response.headers:
            break
        order = current_order(app, alice, query)
        cursor = order.index(page[-1]["id"])
        ahead = [i for i in order[cursor + 1 :] if i not in written]
        # The last record served moves after the cursor (a rename, or a write moving it
        # in last_modified order)...
        first_key = (sort or "").split(",")[0]
        change = {"title": LAST_TITLE[first_key]} if first_key in LAST_TITLE else {"rank": 50}
        app.patch_json(f"{URL}/{page[-1]['id']}", {"data": change}, headers=alice)
        written.add(page[-1]["id"])
        # ...the next one is edited without a change to its sort fields...
        if ahead:
            app.patch_json(f"{URL}/{ahead[0]}", {"data": {"body": "edited"}}, headers=alice)
            written.add(ahead[0])
        # ...a later one is deleted, and a new one created.
        if len(ahead) > 2:
            app.delete(f"{URL}/{ahead[2]}", headers=alice)
            written.add(ahead[2])
        written.add(create(app, alice, title="t2", rank=pages)["id"])
        response = app.get(response.headers["Next-Page"], headers=alice)
    assert pages >= 3
    served_ids = ids(served)
    assert len(served_ids) == len(set(served_ids)), "a record came twice"
    untouched = [r["id"] for r in baseline if r["id"] not in written]
    assert [i for i in served_ids if i not in written] == untouched
    # Catching up: the walk, then what was written since the first page's ETag.
    changes = app.get(f"{URL}?_since={since}", headers=alice).json["data"]
    assert written <= set(ids(changes))
    state = {r["id"]: r for r in served}
    for change in changes:
        if change.get("deleted"):
            state.pop(change["id"], None)
        else:
            state[change["id"]] = change
    assert state == {r["id"]: r for r in listing(app, alice)}


@pytest.mark.parametrize("direction", ["", "-"])
@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_ties_are_in_id_order_whatever_was_written_last(app, alice, direction):
    for _ in range(6):
        create(app, alice, title="same")
    before = ids(listing(app, alice, f"_sort={direction}title"))
    assert before == sorted(before)
    for record_id in before[::2]:
        app.patch_json(f"{URL}/{record_id}", {"data": {"body": "edited"}}, headers=alice)
    assert ids(listing(app, alice, f"_sort={direction}title")) == before


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_an_edit_that_keeps_the_sort_fields_keeps_the_place(app, alice, records):
    order = ids(listing(app, alice, "_sort=title"))
    for record_id in order[3::5]:
        app.patch_json(f"{URL}/{record_id}", {"data": {"body": "edited"}}, headers=alice)
    assert ids(listing(app, alice, "_sort=title")) == order


@pytest.mark.backends("memory", "sqlite", "postgresql")
def test_walk_with_since_does_not_serve_a_record_and_its_tombstone(app, alice, records):
    since = records[4]["last_modified"]
    first = app.get(f"{URL}?_since={since}&_sort=last_modified&_limit=5", headers=alice)
    served = first.json["data"]
    for record in served:
        app.delete(f"{URL}/{record['id']}", headers=alice)
    rest = walk_from(app, alice, first.headers["Next-Page"])
    assert not set(ids(served)) & set(ids(rest))
    assert ids(served + rest) == [r["id"] for r in records[5:]]


def test_next_page_keeps_the_mount_path(app, alice, records):
    environ = {"SCRIPT_NAME": "/api"}
    response = app.get(f"/api{URL}?_limit=5", headers=alice, extra_environ=environ)
    next_page = response.headers["Next-Page"]
    assert urlsplit(next_page).path == f"/api{URL}"
    following = app.get(next_page, headers=alice, extra_environ=environ)
    assert ids(following.json["data"]) == ids(listing(app, alice))[5:10]


def walk_from(app, headers, next_page):
    records = []
    while next_page:
        response = app.get(next_page, headers=headers)
        records.extend(response.json["data"])
        next_page = response.headers.get("Next-Page")
    return records


# Tokens that must be refused -------------------------------------------------------------


def _token_of(next_page):
    return dict(parse_qsl(urlsplit(next_page).query))["_token"]


@pytest.fixture
def next_page(app, alice, records):
    response = app.get(f"{URL}?_sort=rank&has_rank=true&_limit=3", headers=alice)
    return response.headers["Next-Page"]


def test_token_reused_by_another_user_is_400(app, bob, next_page):
    assert_invalid_token(app.get(next_page, headers=bob, expect_errors=True))


@pytest.mark.parametrize(
    "query",
    [
        "_sort=rank&_limit=3",  # a filter less
        "_sort=rank&has_rank=true&rank=1&_limit=3",  # a filter more
        "_sort=rank&has_rank=false&_limit=3",  # another value
        "_sort=-rank&has_rank=true&_limit=3",  # another direction
        "_sort=title&has_rank=true&_limit=3",  # another field
        "_sort=rank,title&has_rank=true&_limit=3",  # another sort
        "has_rank=true&_limit=3",  # the default sort
        "_sort=rank&has_rank=true&_since=0&_limit=3",  # a sync bound
    ],
)
def test_token_reused_with_another_query_is_400(app, alice, next_page, query):
    token = _token_of(next_page)
    response = app.get(f"{URL}?{query}&_token={token}", headers=alice, expect_errors=True)
    assert_invalid_token(response)


def test_token_reused_on_another_collection_is_400(app, alice, next_page):
    token = _token_of(next_page)
    response = app.get(f"/v1/notes?_token={token}", headers=alice, expect_errors=True)
    assert response.status_code == 400
    assert response.json["errno"] == 107


def _b64(data):
    return base64.urlsafe_b64encode(data.encode()).decode().rstrip("=")


def _unb64(encoded):
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


def test_tampered_token_is_400(app, alice, next_page):
    token = _token_of(next_page)
    data, signature = token.split(".")
    values = json.loads(_unb64(data))
    values["rank"] = -1
    forged_data = _b64(json.dumps(values, sort_keys=True, separators=(",", ":")))
    forged_signature = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    base = f"{URL}?_sort=rank&has_rank=true&_limit=3&_token="
    for forged in (f"{forged_data}.{signature}", f"{data}.{forged_signature}", data, signature):
        assert_invalid_token(app.get(base + forged, headers=alice, expect_errors=True))
    # The genuine token still works.
    assert app.get(base + token, headers=alice).status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c",
        ".",
        "!!!.???",
        _b64("not json") + ".0123456789abcdef0123456789abcdef",
        _b64('{"last_modified": 0}') + ".0123456789abcdef0123456789abcdef",
        _b64("[1, 2]") + ".0123456789abcdef0123456789abcdef",
    ],
)
def test_garbage_token_is_400(app, alice, records, token):
    response = app.get(f"{URL}?_limit=3&_token={token}", headers=alice, expect_errors=True)
    assert_invalid_token(response)


def test_undecodable_token_is_400(app, alice, records):
    response = app.get(f"{URL}?_limit=3&_token=%FF%FE", headers=alice, expect_errors=True)
    assert response.status_code == 400
    assert response.json["errno"] == 107
    assert [d["location"] for d in response.json["details"]] == ["querystring"]


# Acceptance: paging through 1,000 records while another client writes ---------------------


PRE_EXISTING = 1000


@pytest.fixture
def thousand(make_resource_app, alice):
    """An app where alice has 1,000 records, written straight to storage (fast)."""
    app = make_resource_app()
    fields = []
    for i in range(PRE_EXISTING):
        fields.append({"title": f"article {i:04d}"})
        if i % 10:
            fields[-1]["rank"] = i % 13
    store(app, alice, fields)
    return app


# Every sort at this scale on memory; on SQL, the sort with the most rules (descending, with
# missing values): the others are walked on every backend by the tests above.
@pytest.mark.parametrize(
    "sort",
    [
        None,
        "rank",
        pytest.param("-rank", marks=pytest.mark.backends("memory", "sqlite", "postgresql")),
    ],
)
def test_paging_1000_records_while_another_client_writes(thousand, alice, sort):
    app = thousand
    query = f"_sort={sort}" if sort else ""
    baseline = listing(app, alice, query)
    assert len(baseline) == PRE_EXISTING
    if sort:
        assert_sorted(baseline, "rank", sort[:1] if sort.startswith("-") else "")
    else:
        timestamps = [r["last_modified"] for r in baseline]
        assert timestamps == sorted(set(timestamps), reverse=True)
    pre_existing = set(ids(baseline))

    written = []

    def another_client_writes(page_number):
        # Ranks spread over the whole range: some land before the cursor, some after.
        written.append(create(app, alice, title=f"new {page_number}", rank=page_number % 13))

    # Pages of 25: 40 pages, 40 writes between them, on every sort (pages of 7 made each
    # run 300 requests, a tenth of the resource suite's time, and checked nothing more).
    pages = walk(app, alice, f"{query}&_limit=25", between_pages=another_client_writes)
    assert all(len(page) == 25 for page in pages[:-1])
    walked = [r for page in pages for r in page]
    # At least the pages the pre-existing records fill, one write between each two.
    assert len(written) == len(pages) - 1 >= (PRE_EXISTING - 1) // 25
    # No record at all comes twice...
    assert len(set(ids(walked))) == len(walked)
    # ...and the records that existed when paging began all come, in their order.
    assert [r for r in walked if r["id"] in pre_existing] == baseline
    # The new ones that do come were written after paging began.
    assert {r["id"] for r in walked} - pre_existing <= set(ids(written))
