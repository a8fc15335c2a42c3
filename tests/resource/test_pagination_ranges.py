"""Walking the pages of a range filter on a declared field (``gt_rank``, ``max_title``: the
test service declares ``title`` and ``rank``) through HTTP, while another client writes.

On PostgreSQL such a page is found through the field's index first, or by the walk of the
collection, as the planner's estimate decides (``Selection.planner_may_walk``): each way is
forced here in turn, and both keep the protocol's promises: no record twice, every record
that stayed untouched during the walk served, in order."""

import pytest

from cliquet.storage import sql as sql_storage
from tests.resource.test_pagination import URL, create, ids, listing, store, walk

pytestmark = pytest.mark.backends("memory", "sqlite", "postgresql")

# On PostgreSQL each way of finding the pages in turn; elsewhere (one way) the backend's.
KINDS = pytest.mark.parametrize(
    "kind", [None, pytest.param("filtered listing", marks=pytest.mark.backends("postgresql")),
             pytest.param("listing", marks=pytest.mark.backends("postgresql"))],
)  # fmt: skip


def _force(monkeypatch, kind):
    if kind is not None:
        forced = staticmethod(lambda *_: kind)
        monkeypatch.setattr(sql_storage.Storage, "_listing_kind", forced)


@pytest.fixture
def ranked(app, alice, bob):
    """30 records of alice, ranks 0 to 9 with gaps and ties, titles t0 to t5; and bob's."""
    fields = []
    for i in range(30):
        fields.append({"title": f"t{i % 6}"})
        if i % 7:
            fields[-1]["rank"] = i % 10
    store(app, bob, [{"title": "t1", "rank": 5}])
    return store(app, alice, fields)


@pytest.mark.parametrize(
    "query",
    [
        "gt_rank=3",
        "min_rank=2&max_rank=7&_sort=title,-rank",
        "lt_rank=8&_sort=-rank",
        "max_title=t3&_sort=rank,title",
        "gt_rank=0&_sort=last_modified",
    ],
)
@KINDS
def test_walking_a_range_while_another_client_writes(app, alice, ranked, monkeypatch, kind, query):
    _force(monkeypatch, kind)
    baseline = listing(app, alice, query)
    assert len(baseline) > 6
    written = set()

    def another_client_writes(page_number):
        # A record served moves (its rank and title change), one ahead is deleted, a new one
        # enters the range.
        order = ids(listing(app, alice, query))
        seen = [i for i in ids(served) if i in order]
        if seen:
            change = {"rank": 9 - page_number % 10, "title": f"t{page_number % 6}"}
            app.patch_json(f"{URL}/{seen[-1]}", {"data": change}, headers=alice)
            written.add(seen[-1])
        ahead = [i for i in order if i not in set(ids(served)) | written]
        if len(ahead) > 1:
            app.delete(f"{URL}/{ahead[1]}", headers=alice)
            written.add(ahead[1])
        new = create(app, alice, title=f"t{page_number % 6}", rank=page_number % 10)
        written.add(new["id"])

    served = []
    response = app.get(f"{URL}?{query}&_limit=3", headers=alice)
    pages = 0
    while True:
        pages += 1
        served.extend(response.json["data"])
        if "Next-Page" not in response.headers:
            break
        another_client_writes(pages)
        response = app.get(response.headers["Next-Page"], headers=alice)
    assert pages >= 3
    assert len(ids(served)) == len(set(ids(served))), "a record came twice"
    untouched = [i for i in ids(baseline) if i not in written]
    assert [i for i in ids(served) if i not in written] == untouched


@KINDS
def test_walking_the_changes_of_a_range_since_a_timestamp(app, alice, ranked, monkeypatch, kind):
    _force(monkeypatch, kind)
    since = ranked[9]["last_modified"]
    for record in ranked[10:24:3]:
        app.delete(f"{URL}/{record['id']}", headers=alice)
    query = f"_since={since}&min_rank=3"
    expected = listing(app, alice, query)
    # Tombstones hold no rank: only the live records of the range are changes of it.
    assert expected and all(r["rank"] >= 3 for r in expected)
    pages = walk(app, alice, f"{query}&_limit=2")
    assert [r for page in pages for r in page] == expected
